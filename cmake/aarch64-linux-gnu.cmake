# SPDX-License-Identifier: MIT
# lamina: cross-compiles for 64-bit ARM Linux with Debian's g++-aarch64-linux-gnu and runs the
# programs (tests, catch_discover_tests' listing) under qemu-user.
# Usage: cmake --preset aarch64, or -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(LAMINA_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${LAMINA_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${LAMINA_CROSS_TRIPLE}-g++)

# The target's libraries live under /usr/aarch64-linux-gnu; qemu finds the dynamic loader and
# the shared libraries there (-L), so no binfmt registration is needed.
set(CMAKE_FIND_ROOT_PATH /usr/${LAMINA_CROSS_TRIPLE})
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/${LAMINA_CROSS_TRIPLE})

# Programs from the build machine; libraries only from the target's root. Eigen and Catch2 are
# header-only and architecture-independent, so their config packages and headers are taken from
# the build machine's /usr (Debian's cross compiler searches /usr/include last anyway).
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
