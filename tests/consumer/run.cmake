# Builds and runs one consumer project against this source tree.
#   cmake -DMODE=find_package|add_subdirectory|fetchcontent|pkg-config -DSRC=<repo> -DWORK=<dir>
#         -DCXX=<compiler> -P run.cmake
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})

function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGV}")
  endif()
endfunction()

set(consumer_args -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=Release)
if(MODE STREQUAL "find_package" OR MODE STREQUAL "pkg-config")
  # Install the library alone (no tests, examples or benchmarks) to a fresh prefix.
  run(${CMAKE_COMMAND} -S ${SRC} -B ${WORK}/lib -DCMAKE_CXX_COMPILER=${CXX}
      -DFBNIC_BUILD_TESTS=OFF -DFBNIC_BUILD_EXAMPLES=OFF -DFBNIC_BUILD_BENCHMARKS=OFF)
  run(${CMAKE_COMMAND} --build ${WORK}/lib)
  run(${CMAKE_COMMAND} --install ${WORK}/lib --prefix ${WORK}/prefix)
endif()

if(MODE STREQUAL "pkg-config")
  set(ENV{PKG_CONFIG_PATH} ${WORK}/prefix/share/pkgconfig)
  execute_process(COMMAND pkg-config --cflags fbnic OUTPUT_VARIABLE cflags
                  OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config does not know fbnic")
  endif()
  separate_arguments(cflags UNIX_COMMAND "${cflags}")
  run(${CXX} ${cflags} ${SRC}/tests/consumer/main.cpp -o ${WORK}/consumer)
elseif(MODE STREQUAL "find_package")
  run(${CMAKE_COMMAND} -S ${SRC}/tests/consumer/find_package -B ${WORK}/build ${consumer_args}
      -DCMAKE_PREFIX_PATH=${WORK}/prefix)
  run(${CMAKE_COMMAND} --build ${WORK}/build)
  file(COPY ${WORK}/build/consumer DESTINATION ${WORK})
else()
  run(${CMAKE_COMMAND} -S ${SRC}/tests/consumer/${MODE} -B ${WORK}/build ${consumer_args}
      -DFBNIC_SOURCE_DIR=${SRC})
  run(${CMAKE_COMMAND} --build ${WORK}/build --target consumer)
  file(COPY ${WORK}/build/consumer DESTINATION ${WORK})
endif()
run(${WORK}/consumer)
