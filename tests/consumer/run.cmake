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
  set(ENV{PKG_CONFIG_PATH} ${WORK}/prefix/share/pkgconfig:${WORK}/prefix/lib/pkgconfig)
  # The core: the consumer's own language level wins (no -std in the Cflags).
  execute_process(COMMAND pkg-config --cflags --libs fbnic OUTPUT_VARIABLE flags
                  OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config does not know fbnic")
  endif()
  if(flags MATCHES "-std=")
    message(FATAL_ERROR "fbnic.pc forces a language level: ${flags}")
  endif()
  separate_arguments(flags UNIX_COMMAND "${flags}")
  run(${CXX} -std=c++2b ${flags} ${SRC}/tests/consumer/core_main.cpp -o ${WORK}/core_consumer)
  run(${WORK}/core_consumer)
  # The VFIO library links through its own .pc (which requires fbnic's).
  execute_process(COMMAND pkg-config --cflags --libs fbnic-vfio OUTPUT_VARIABLE flags
                  OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config does not know fbnic-vfio")
  endif()
  separate_arguments(flags UNIX_COMMAND "${flags}")
  run(${CXX} -std=c++20 ${SRC}/tests/consumer/vfio_main.cpp ${flags} -o ${WORK}/vfio_consumer)
  run(${WORK}/vfio_consumer)
  execute_process(COMMAND pkg-config --cflags fbnic OUTPUT_VARIABLE cflags
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  separate_arguments(cflags UNIX_COMMAND "${cflags}")
  run(${CXX} -std=c++20 ${cflags} ${SRC}/tests/consumer/main.cpp -o ${WORK}/consumer)
elseif(MODE STREQUAL "find_package")
  run(${CMAKE_COMMAND} -S ${SRC}/tests/consumer/find_package -B ${WORK}/build ${consumer_args}
      -DCMAKE_PREFIX_PATH=${WORK}/prefix)
  run(${CMAKE_COMMAND} --build ${WORK}/build)
  file(COPY ${WORK}/build/consumer DESTINATION ${WORK})
elseif(MODE STREQUAL "add_subdirectory")
  # The whole build (not only the consumer's target): still nothing of a backend.
  run(${CMAKE_COMMAND} -S ${SRC}/tests/consumer/${MODE} -B ${WORK}/build ${consumer_args}
      -DFBNIC_SOURCE_DIR=${SRC})
  run(${CMAKE_COMMAND} --build ${WORK}/build)
  file(GLOB_RECURSE built LIST_DIRECTORIES false ${WORK}/build/fbnic/*.o ${WORK}/build/fbnic/*.a
       ${WORK}/build/fbnic/*fbnic-emu ${WORK}/build/fbnic/*fbnic-info ${WORK}/build/fbnic/*_test)
  if(built)
    message(FATAL_ERROR "a core-only consumer built parts of fbnic it did not ask for: ${built}")
  endif()
  message(STATUS "nothing of fbnic was built beyond the consumer's own target")
  file(COPY ${WORK}/build/consumer DESTINATION ${WORK})
else()
  run(${CMAKE_COMMAND} -S ${SRC}/tests/consumer/${MODE} -B ${WORK}/build ${consumer_args}
      -DFBNIC_SOURCE_DIR=${SRC})
  run(${CMAKE_COMMAND} --build ${WORK}/build)
  file(COPY ${WORK}/build/consumer DESTINATION ${WORK})
endif()
run(${WORK}/consumer)
