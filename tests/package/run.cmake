# SPDX-License-Identifier: MIT
# lamina tests: installs lamina into a scratch prefix, then builds and runs the consumer through
# find_package, add_subdirectory, or make with lamina.pc from pkg-config (make/Makefile).
# Usage: cmake -DSOURCE_DIR=... -DWORK_DIR=... -DMODE=find_package|add_subdirectory|pkg-config
#              [-DCXX_COMPILER=...] -P run.cmake
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
if(NOT MODE STREQUAL "add_subdirectory")
  # Installed as the README says, with the prefix given at install time (configured for the
  # default one), which lamina.pc must name.
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/lamina ${compiler_args} -DLAMINA_BUILD_TESTS=OFF
      -DLAMINA_BUILD_EXAMPLES=OFF -DLAMINA_BUILD_BENCHMARKS=OFF)
  run(${CMAKE_COMMAND} --install ${WORK_DIR}/lamina --prefix ${prefix})
endif()
if(MODE STREQUAL "pkg-config")
  # make finds lamina.pc through PKG_CONFIG_PATH alone; eigen3.pc and zlib.pc are the system's.
  set(pc_env ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${prefix}/share/pkgconfig)
  execute_process(COMMAND ${pc_env} pkg-config --variable=includedir lamina OUTPUT_VARIABLE includedir
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT EXISTS "${includedir}/lamina/lamina.hpp" OR NOT includedir MATCHES "^${prefix}/")
    message(FATAL_ERROR "lamina.pc's includedir '${includedir}' is not the installed ${prefix}/include")
  endif()
  set(make_args)
  if(CXX_COMPILER)
    set(make_args CXX=${CXX_COMPILER})
  endif()
  file(MAKE_DIRECTORY ${WORK_DIR}/consumer)
  run(${pc_env} make -C ${WORK_DIR}/consumer -f ${SOURCE_DIR}/tests/package/make/Makefile ${make_args})
else()
  if(MODE STREQUAL "find_package")
    list(APPEND consumer_args -DCMAKE_PREFIX_PATH=${prefix})
  else()
    list(APPEND consumer_args -DLAMINA_SOURCE_DIR=${SOURCE_DIR})
  endif()
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/package/consumer -B ${WORK_DIR}/consumer ${consumer_args})
  run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer)
endif()
run(${WORK_DIR}/consumer/consumer)
message(STATUS "consumer through ${MODE}: built and ran")
