# Compiles the first C++ block of a Markdown document, so that documented code stays true.
#   cmake -DDOC=<file.md> -DOUT=<file.cpp> -DCXX=<compiler> -DINCLUDE=<dir> [-DAPPEND=<file>]
#         -P doc_snippet.cmake
# With -DRUN=ON (and -DMOCK_INCLUDE=<dir>, optional -DFLAGS=<flags>) the block and what is
# appended (a main()) are built as a hosted program against the device model, and run.
file(READ ${DOC} text)
string(FIND "${text}" "```cpp\n" begin)
if(begin EQUAL -1)
  message(FATAL_ERROR "no C++ block in ${DOC}")
endif()
math(EXPR begin "${begin} + 7")
string(SUBSTRING "${text}" ${begin} -1 rest)
string(FIND "${rest}" "```" end)
string(SUBSTRING "${rest}" 0 ${end} code)
if(DEFINED APPEND)
  file(READ ${APPEND} extra)
  string(APPEND code "${extra}")
endif()
file(WRITE ${OUT} "${code}")
if(RUN)
  separate_arguments(extra UNIX_COMMAND "${FLAGS}")
  execute_process(COMMAND ${CXX} -std=c++20 -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Werror
                          ${extra} -I${INCLUDE} -I${MOCK_INCLUDE} ${OUT} -o ${OUT}.bin
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "the code in ${DOC} does not build as a program")
  endif()
  execute_process(COMMAND ${OUT}.bin RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "the code in ${DOC} does not run as documented (exit ${rc})")
  endif()
  return()
endif()
execute_process(COMMAND ${CXX} -std=c++20 -ffreestanding -fno-exceptions -fno-rtti
                        -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Werror
                        -I${INCLUDE} -fsyntax-only ${OUT}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the code in ${DOC} does not compile")
endif()
