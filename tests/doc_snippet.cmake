# Compiles the first C++ block of a Markdown document, so that documented code stays true.
#   cmake -DDOC=<file.md> -DOUT=<file.cpp> -DCXX=<compiler> -DINCLUDE=<dir> [-DAPPEND=<file>]
#         -P doc_snippet.cmake
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
execute_process(COMMAND ${CXX} -std=c++20 -ffreestanding -fno-exceptions -fno-rtti
                        -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Werror
                        -I${INCLUDE} -fsyntax-only ${OUT}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the code in ${DOC} does not compile")
endif()
