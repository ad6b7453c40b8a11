// SPDX-License-Identifier: MIT
// lamina: libFuzzer target feeding arbitrary bytes (plain or gzip) to the IDX reader.
#include <lamina/io/idx.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const auto array = lamina::io::read_idx(std::as_bytes(std::span(data, size)), "fuzz");
        // A successful read must be self-consistent: the shape accounts for every element.
        std::size_t n = 1;
        for (const auto d : array.shape()) n *= d;
        if (array.rank() == 0 || n != array.size()) std::abort();
    } catch (const lamina::io_error&) {
        // Malformed input must end here, and nowhere else.
    }
    return 0;
}
