// SPDX-License-Identifier: MIT
// lamina tests: builds model files and zip/.npy bytes by hand, from the specs, for the save/load tests.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "idx_files.hpp"

namespace lamina::test {

using ByteVec = std::vector<std::byte>;

/// CRC-32 computed bit by bit from its definition (reflected polynomial 0xEDB88320), not by
/// the table-driven code under test.
inline std::uint32_t crc32_bitwise(const ByteVec& bytes, std::size_t n) {
    std::uint32_t crc = 0xFFFFFFFFu;
    for (std::size_t i = 0; i < n; ++i) {
        crc ^= std::to_integer<std::uint32_t>(bytes[i]);
        for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/// Appends little-endian fields, as the model-file and zip specs lay them out.
struct LeWriter {
    ByteVec bytes;
    LeWriter& raw(std::string_view s) {
        for (const char c : s) bytes.push_back(static_cast<std::byte>(c));
        return *this;
    }
    LeWriter& uint(std::uint64_t v, int n) {
        for (int i = 0; i < n; ++i) bytes.push_back(std::byte(static_cast<std::uint8_t>(v >> (8 * i))));
        return *this;
    }
    LeWriter& u8(std::uint64_t v) { return uint(v, 1); }
    LeWriter& u16(std::uint64_t v) { return uint(v, 2); }
    LeWriter& u32(std::uint64_t v) { return uint(v, 4); }
    LeWriter& u64(std::uint64_t v) { return uint(v, 8); }
    LeWriter& f32(float v) {
        std::uint32_t u;
        std::memcpy(&u, &v, 4);
        return u32(u);
    }
    LeWriter& f64(double v) {
        std::uint64_t u;
        std::memcpy(&u, &v, 8);
        return u64(u);
    }
    LeWriter& str(std::string_view s) { return u32(s.size()).raw(s); }
    LeWriter& bytes_of(const ByteVec& b) {
        bytes.insert(bytes.end(), b.begin(), b.end());
        return *this;
    }
};

/// Reads a little-endian unsigned integer of `n` bytes at `at`.
inline std::uint64_t le_at(const ByteVec& b, std::size_t at, int n) {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= std::uint64_t(std::to_integer<std::uint8_t>(b[at + std::size_t(i)])) << (8 * i);
    return v;
}

/// Overwrites `n` bytes at `at` with `v`, little-endian.
inline void put_le(ByteVec& b, std::size_t at, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b[at + std::size_t(i)] = std::byte(static_cast<std::uint8_t>(v >> (8 * i)));
}

/// Makes a model file's size field (byte 16) and trailing CRC-32 agree with its contents:
/// for files built or edited by hand. `bytes` ends with 4 bytes for the checksum.
inline ByteVec fix_model_file(ByteVec bytes) {
    put_le(bytes, 16, bytes.size(), 8);
    put_le(bytes, bytes.size() - 4, crc32_bitwise(bytes, bytes.size() - 4), 4);
    return bytes;
}

/// The header of a model file (magic, version, scalar tag, size placeholder).
inline LeWriter model_header(std::uint32_t version, std::uint32_t scalar_size) {
    LeWriter w;
    w.raw("\x89LMN\r\n\x1A\n").u32(version).u32(scalar_size).u64(0);
    return w;
}

/// A .npy version 1.0 file with the given header dict text and data bytes.
inline ByteVec npy_file(const std::string& dict, const ByteVec& data) {
    std::string header = dict;
    while ((10 + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
    LeWriter w;
    w.raw("\x93NUMPY").u8(1).u8(0).u16(header.size()).raw(header).bytes_of(data);
    return w.bytes;
}

/// Little-endian float32 bytes of `values`.
inline ByteVec f32_bytes(const std::vector<float>& values) {
    LeWriter w;
    for (const float v : values) w.f32(v);
    return w.bytes;
}

/// A zip archive of stored entries, written from PKWARE's APPNOTE by hand.
inline ByteVec zip_stored(const std::vector<std::pair<std::string, ByteVec>>& entries) {
    LeWriter out, dir;
    for (const auto& [name, data] : entries) {
        const std::uint64_t offset = out.bytes.size();
        const std::uint32_t crc = crc32_bitwise(data, data.size());
        out.u32(0x04034B50).u16(20).u16(0).u16(0).u16(0).u16(0x21).u32(crc).u32(data.size()).u32(data.size());
        out.u16(name.size()).u16(0).raw(name).bytes_of(data);
        dir.u32(0x02014B50).u16(20).u16(20).u16(0).u16(0).u16(0).u16(0x21).u32(crc).u32(data.size()).u32(data.size());
        dir.u16(name.size()).u16(0).u16(0).u16(0).u16(0).u32(0).u32(offset).raw(name);
    }
    const std::uint64_t dir_offset = out.bytes.size();
    out.bytes_of(dir.bytes);
    out.u32(0x06054B50)
        .u16(0)
        .u16(0)
        .u16(entries.size())
        .u16(entries.size())
        .u32(dir.bytes.size())
        .u32(dir_offset)
        .u16(0);
    return out.bytes;
}

/// A zip64 archive of one stored entry: its directory record gives both sizes and the local
/// header's offset in a zip64 extra field, and zip64 end records lead to the directory. The
/// directory declares `declared` bytes (a lie unless it is the data's size, which the local
/// header gives).
inline ByteVec zip64_stored(const std::string& name, const ByteVec& data, std::uint64_t declared) {
    const std::uint32_t crc = crc32_bitwise(data, data.size());
    LeWriter z;
    z.u32(0x04034B50).u16(45).u16(0).u16(0).u16(0).u16(0x21).u32(crc).u32(data.size()).u32(data.size());
    z.u16(name.size()).u16(0).raw(name).bytes_of(data);
    const std::uint64_t dir = z.bytes.size();
    z.u32(0x02014B50).u16(45).u16(45).u16(0).u16(0).u16(0).u16(0x21).u32(crc).u32(0xFFFFFFFF).u32(0xFFFFFFFF);
    z.u16(name.size()).u16(28).u16(0).u16(0).u16(0).u32(0).u32(0xFFFFFFFF).raw(name);
    z.u16(0x0001).u16(24).u64(declared).u64(declared).u64(0);
    const std::uint64_t dir_size = z.bytes.size() - dir, eocd64 = z.bytes.size();
    z.u32(0x06064B50).u64(44).u16(45).u16(45).u32(0).u32(0).u64(1).u64(1).u64(dir_size).u64(dir);
    z.u32(0x07064B50).u32(0).u64(eocd64).u32(1);
    z.u32(0x06054B50).u16(0).u16(0).u16(0xFFFF).u16(0xFFFF).u32(0xFFFFFFFF).u32(0xFFFFFFFF).u16(0);
    return z.bytes;
}

/// A fresh temporary folder (`TempDir`) that can also list what is left in it.
class SaveDir : public TempDir {
public:
    /// The names in the folder, sorted.
    std::vector<std::string> entries() const {
        std::vector<std::string> names;
        for (const auto& e : std::filesystem::directory_iterator(path())) names.push_back(e.path().filename().string());
        std::sort(names.begin(), names.end());
        return names;
    }
};

inline void write_bytes(const std::filesystem::path& file, const ByteVec& bytes) {
    std::ofstream out(file, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + file.string());
}

inline ByteVec read_bytes(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    ByteVec out;
    for (std::istreambuf_iterator<char> it(in), end; it != end; ++it) out.push_back(static_cast<std::byte>(*it));
    return out;
}

}  // namespace lamina::test
