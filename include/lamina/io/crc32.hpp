// SPDX-License-Identifier: MIT
// lamina: CRC-32 (IEEE 802.3, the checksum of zip, gzip and PNG), for the model and .npz files.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace lamina::io {

namespace detail {

/// The byte-at-a-time table of the reflected polynomial 0xEDB88320, built at compile time.
inline constexpr std::array<std::uint32_t, 256> crc32_table = [] {
    std::array<std::uint32_t, 256> table{};
    for (std::uint32_t n = 0; n < 256; ++n) {
        std::uint32_t c = n;
        for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[n] = c;
    }
    return table;
}();

}  // namespace detail

/// The CRC-32 of `bytes`, as zlib's `crc32(crc, bytes, size)` computes it (so also Python's
/// `zlib.crc32` and `binascii.crc32`): `crc32("123456789")` is 0xCBF43926. Pass the result
/// of a previous call as `crc` to checksum data that arrives in pieces.
/// \param bytes the data.
/// \param crc the CRC-32 of the data before `bytes` (0 for none).
/// \returns the CRC-32 of the data so far.
[[nodiscard]] constexpr std::uint32_t crc32(std::span<const std::byte> bytes, std::uint32_t crc = 0) noexcept {
    crc = ~crc;
    for (const std::byte b : bytes)
        crc = detail::crc32_table[(crc ^ std::to_integer<std::uint32_t>(b)) & 0xFFu] ^ (crc >> 8);
    return ~crc;
}

}  // namespace lamina::io
