# SPDX-License-Identifier: MIT
# lamina tests: installs lamina into a scratch prefix, then builds and runs the consumer both ways.
# Usage: cmake -DSOURCE_DIR=... -DWORK_DIR=... -DMODE=find_package|add_subdirectory [-DCXX_COMPILER=...]
#              -P run.cmake
function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGV}\n${out}")
  endif()
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
set(consumer_args -DLAMINA_CONSUME=${MODE} -DCMAKE_BUILD_TYPE=Release)
set(compiler_args)
if(CXX_COMPILER)
  set(compiler_args -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
  list(APPEND consumer_args ${compiler_args})
endif()
if(MODE STREQUAL "find_package")
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/lamina ${compiler_args} -DLAMINA_BUILD_TESTS=OFF
      -DLAMINA_BUILD_EXAMPLES=OFF -DLAMINA_BUILD_BENCHMARKS=OFF -DCMAKE_INSTALL_PREFIX=${prefix})
  run(${CMAKE_COMMAND} --install ${WORK_DIR}/lamina)
  list(APPEND consumer_args -DCMAKE_PREFIX_PATH=${prefix})
else()
  list(APPEND consumer_args -DLAMINA_SOURCE_DIR=${SOURCE_DIR})
endif()
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/package/consumer -B ${WORK_DIR}/consumer ${consumer_args})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer)
run(${WORK_DIR}/consumer/consumer)
message(STATUS "consumer through ${MODE}: built and ran")
