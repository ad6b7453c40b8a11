// SPDX-License-Identifier: MIT
// lamina: a scratch buffer per thread, for layers' per-call temporaries that must not allocate per batch.
#pragma once

#include <cstddef>
#include <vector>

#include <lamina/core/types.hpp>

namespace lamina::detail {

/// At least `n` values of the calling thread's scratch, kept between calls and grown when a
/// call needs more (so a thread allocates only for its first call of a size). One buffer per
/// thread and scalar type: valid until the thread's next call of `thread_scratch<S>`, so a
/// layer takes it once per call and holds it across no other layer's call.
template <Scalar S>
S* thread_scratch(Index n) {
    static thread_local std::vector<S> buffer;
    if (Index(buffer.size()) < n) buffer.resize(std::size_t(n));
    return buffer.data();
}

}  // namespace lamina::detail
