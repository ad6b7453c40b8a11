# SPDX-License-Identifier: MIT
# lamina tests: runs each translation unit of the ODR test alone, then the program that links
# both, which checks that each trains and predicts as it did alone.
# Usage: cmake -DBOTH=... -DFIRST=... -DSECOND=... -DWORK_DIR=... [-DEMULATOR=...] -P compare.cmake
# (EMULATOR: what runs the programs of a cross build, such as qemu-aarch64 and its arguments.)
function(run)
  execute_process(COMMAND ${EMULATOR} ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${ARGN} failed (${rc}):\n${out}${err}")
  endif()
  message(STATUS "${out}")
endfunction()

file(MAKE_DIRECTORY ${WORK_DIR})
run(${FIRST} OUTPUT_FILE ${WORK_DIR}/first.txt)
run(${SECOND} OUTPUT_FILE ${WORK_DIR}/second.txt)
run(${BOTH} ${WORK_DIR}/first.txt ${WORK_DIR}/second.txt)
