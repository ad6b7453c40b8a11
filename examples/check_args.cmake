# SPDX-License-Identifier: MIT
# lamina: runs mnist_mlp with bad arguments and bad output paths, and checks that each is refused at once, with
# the real range and kind of the value, the path and what it is, and each piece of advice once.
# Usage: cmake -DPROGRAM=<mnist_mlp> -DWORK_DIR=<scratch folder> [-DEMULATOR=<qemu...>] -P check_args.cmake
cmake_minimum_required(VERSION 3.20)

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}/empty" "${WORK_DIR}/folder")
set(failures 0)

# check(<exit code> <text stderr must hold> <text stderr must not hold, or "">  <arguments...>)
function(check rc expected absent)
  execute_process(COMMAND ${EMULATOR} "${PROGRAM}" ${ARGN} RESULT_VARIABLE got_rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err TIMEOUT 60)
  set(ok TRUE)
  if(NOT got_rc STREQUAL rc)
    set(ok FALSE)
  endif()
  string(FIND "${err}${out}" "${expected}" at)
  if(at EQUAL -1)
    set(ok FALSE)
  endif()
  if(NOT absent STREQUAL "")
    string(FIND "${err}${out}" "${absent}" at)
    if(NOT at EQUAL -1)
      set(ok FALSE)
    endif()
  endif()
  # Each piece of advice once.
  foreach(advice "Try 'mnist_mlp --help'" "fetch_mnist.sh")
    string(REPLACE "${advice}" "" rest "${err}")
    string(LENGTH "${err}" before)
    string(LENGTH "${rest}" after)
    string(LENGTH "${advice}" size)
    math(EXPR removed "${before} - ${after}")
    if(removed GREATER size)
      set(ok FALSE)
    endif()
  endforeach()
  if(NOT ok)
    message(SEND_ERROR "mnist_mlp ${ARGN}: expected exit ${rc} and '${expected}'"
                       " (not '${absent}'), got exit ${got_rc}:\n${err}")
    math(EXPR n "${failures} + 1")
    set(failures ${n} PARENT_SCOPE)
  endif()
endfunction()

set(data --data "${WORK_DIR}/empty")

# The range and kind of a bad value, as a person writes them.
check(2 "--lr must be in (0, 1000000], found 0" "0.000000" --lr 0)
check(2 "--lr must be in (0, 1000000], found nan" "" --lr nan)
check(2 "--lr expects a decimal number in (0, 1000000], found 'fast'" "" --lr fast)
check(2 "--epochs expects a whole number in [0, 1000000], found the fraction 1.5" "expects a number" --epochs 1.5)
check(2 "--seed must be a whole number in [0, 18446744073709551615], found the negative number -1" "expects a number"
      --seed -1)
check(2 "--batch-size expects a whole number in [1, 60000], found 'ten'" "" --batch-size ten)
check(2 "--batch-size must be a whole number in [1, 60000], found 60001" "" --batch-size 60001)
check(2 "--threads must be a whole number in [0, 1024], found 99999999999999999999" "" --threads
      99999999999999999999)
check(2 "--dropout must be in [0, 1), found 1" "" --dropout 1)
check(2 "--hidden expects a whole number in [1, 100000], found the fraction 2.5" "" --hidden 100,2.5)
check(2 "Try 'mnist_mlp --help'" "" --bogus)
check(0 "Usage: mnist_mlp" "" --help)

# Output paths are checked before the model and the data: the data folder here is empty, so
# a run that got as far as loading it would report the data instead.
check(1 "--out: cannot write '/dev/null': it is a character device, not a regular file" "MNIST" ${data}
      --out /dev/null)
check(1 "--history: cannot write '${WORK_DIR}/folder': it is a folder" "MNIST" ${data} --out "${WORK_DIR}/a.png"
      --history "${WORK_DIR}/folder")
check(1 "--save: cannot write '${WORK_DIR}/missing/m.lamina': folder '${WORK_DIR}/missing' does not exist" "MNIST"
      ${data} --out "${WORK_DIR}/a.png" --save "${WORK_DIR}/missing/m.lamina")
check(2 "--out and --history name the same file" "MNIST" ${data} --out "${WORK_DIR}/same" --history
      "${WORK_DIR}/same")
# A bad --data folder is reported as the folder given, without the example's advice to fetch.
check(1 "(the MNIST folder given with --data: '${WORK_DIR}/empty')" "Fetch the data again" ${data} --out
      "${WORK_DIR}/a.png" --epochs 0)

file(GLOB left "${WORK_DIR}/*")
list(SORT left)
if(NOT left STREQUAL "${WORK_DIR}/empty;${WORK_DIR}/folder")
  message(SEND_ERROR "the refused runs left files behind: ${left}")
  math(EXPR failures "${failures} + 1")
endif()
if(failures GREATER 0)
  message(FATAL_ERROR "${failures} argument checks failed")
endif()
