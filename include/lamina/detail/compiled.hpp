// SPDX-License-Identifier: MIT
// lamina: what a translation unit defines itself and what it leaves to lamina::compiled.
#pragma once

// A program that links lamina::compiled is built with LAMINA_COMPILED: the headers declare the
// library's instantiations `extern template`, and leave out the definitions that only those
// instantiations use (the model's members that run it and read and write its files, the
// float kernels), so that the program's translation units neither compile nor parse them.
// lamina::compiled's own source, src/lamina.cpp, defines LAMINA_COMPILED_SOURCE as well and
// gets every definition.
#if defined(LAMINA_COMPILED) && !defined(LAMINA_COMPILED_SOURCE)
#define LAMINA_DETAIL_DEFINITIONS 0
#else
#define LAMINA_DETAIL_DEFINITIONS 1
#endif

// The same for Keras's files (lamina/io/keras.hpp), which lamina::compiled holds only when it
// was built with nlohmann/json: it then defines LAMINA_COMPILED_KERAS for its users.
#if defined(LAMINA_COMPILED_KERAS) && !defined(LAMINA_COMPILED_SOURCE)
#define LAMINA_DETAIL_KERAS_DEFINITIONS 0
#else
#define LAMINA_DETAIL_KERAS_DEFINITIONS 1
#endif

// For a function that is not a template and that lamina::compiled holds: inline in a
// header-only build; with LAMINA_COMPILED an ordinary function, defined once, in
// lamina::compiled, and only declared elsewhere.
#if defined(LAMINA_COMPILED)
#define LAMINA_DETAIL_INLINE
#else
#define LAMINA_DETAIL_INLINE inline
#endif
