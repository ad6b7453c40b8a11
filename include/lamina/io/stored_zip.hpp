// SPDX-License-Identifier: MIT
// lamina: a bounded reader and a writer of zip archives whose entries are stored (not compressed), as .keras files are.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <lamina/core/error.hpp>
#include <lamina/io/crc32.hpp>
#include <lamina/io/file.hpp>
#include <lamina/io/zip.hpp>

namespace lamina::io::zip {

/// One entry of an archive: its name and its bytes (a view into the archive when read).
struct Entry {
    std::string name;
    std::span<const std::byte> data;
};

/// The entries of the zip archive held in `bytes`, in the central directory's order, each a
/// view into `bytes`. Only stored entries are read (Keras writes .keras files stored). The
/// directory is read and checked by `io::ZipArchive` against `limits` (how many entries, how
/// many bytes each and all declare, repeated names, local headers that disagree with it)
/// before any entry is.
/// \param where the function to name in errors; \param file the archive's name.
/// \throws lamina::io_error "<where>: '<file>': zip archive: <problem>" for anything but a
///         well-formed archive of stored, unencrypted entries within `limits` whose CRC-32s
///         match.
[[nodiscard]] inline std::vector<Entry> read(std::span<const std::byte> bytes, std::string_view file,
                                             std::string_view where, const ZipLimits& limits = {}) {
    const ZipArchive archive(bytes, file, where, limits, "zip archive: ");
    std::vector<Entry> entries;
    entries.reserve(archive.entries().size());
    for (const ZipEntry& e : archive.entries()) entries.push_back({e.name, archive.view(e)});
    return entries;
}

/// A zip archive of stored entries built in memory one entry at a time, as Python's
/// `zipfile.ZipFile(path, "w")` writes one (and Keras and `numpy.savez` with it): version
/// 2.0, no flags, dated 1980-01-01 00:00, no zip64.
class Writer {
public:
    /// Appends the entry `name` holding `data`.
    /// \throws std::length_error for a 65535th entry, a name over 65535 bytes, or an archive
    ///         that would reach 4 GiB (zip64 is not written).
    void add(std::string_view name, std::span<const std::byte> data) {
        using io::detail::store_le;
        const std::uint64_t offset = out_.size();
        if (count_ + 1 >= 0xFFFF) throw std::length_error("lamina::io::zip::write: too many entries");
        if (data.size() >= 0xFFFFFFFFu || offset >= 0xFFFFFFFFu || name.size() > 0xFFFF)
            throw std::length_error("lamina::io::zip::write: an entry over 4 GiB (zip64 is not written)");
        const std::uint32_t crc = io::crc32(data);
        // The fields a local header and its central directory record share, from "version
        // needed" to "extra length": version 2.0, no flags, stored, 1980-01-01 00:00 (DOS date
        // 0x21), the checksum, both sizes (stored: equal), the name's length, no extra field.
        const auto store_shared_fields = [&](std::vector<std::byte>& to) {
            for (const std::uint64_t v : {20, 0, 0, 0, 0x21}) store_le(to, v, 2);
            store_le(to, crc, 4);
            store_le(to, data.size(), 4);
            store_le(to, data.size(), 4);
            store_le(to, name.size(), 2);
            store_le(to, 0, 2);
        };
        // Local file header, name, data.
        store_le(out_, 0x04034B50, 4);
        store_shared_fields(out_);
        for (const char c : name) out_.push_back(std::byte(static_cast<unsigned char>(c)));
        out_.insert(out_.end(), data.begin(), data.end());
        // Its central directory record: signature, version made by (2.0), the shared fields,
        // no comment, disk 0, no attributes, the local header's offset, the name.
        store_le(directory_, 0x02014B50, 4);
        store_le(directory_, 20, 2);
        store_shared_fields(directory_);
        for (const std::uint64_t v : {0, 0, 0}) store_le(directory_, v, 2);
        store_le(directory_, 0, 4);
        store_le(directory_, offset, 4);
        for (const char c : name) directory_.push_back(std::byte(static_cast<unsigned char>(c)));
        ++count_;
    }

    /// The archive: the entries added, their central directory and its end record.
    /// \throws std::length_error for an archive of 4 GiB or more.
    [[nodiscard]] std::vector<std::byte> finish() && {
        using io::detail::store_le;
        if (out_.size() + directory_.size() >= 0xFFFFFFFFu)
            throw std::length_error("lamina::io::zip::write: archive over 4 GiB");
        const std::uint64_t directory_offset = out_.size();
        out_.insert(out_.end(), directory_.begin(), directory_.end());
        // End of central directory: disk 0 and the disk of the directory, the entry count
        // (on this disk, in all), the directory's size and offset, no comment.
        store_le(out_, 0x06054B50, 4);
        for (const std::uint64_t v : {std::uint64_t(0), std::uint64_t(0), count_, count_}) store_le(out_, v, 2);
        store_le(out_, directory_.size(), 4);
        store_le(out_, directory_offset, 4);
        store_le(out_, 0, 2);
        return std::move(out_);
    }

private:
    std::vector<std::byte> out_, directory_;
    std::uint64_t count_ = 0;
};

/// The bytes of a zip archive of `entries`, stored, in order (as `Writer` writes them).
/// \throws std::length_error for an archive over 4 GiB or over 65534 entries.
[[nodiscard]] inline std::vector<std::byte> write(const std::vector<Entry>& entries) {
    Writer w;
    for (const Entry& e : entries) w.add(e.name, e.data);
    return std::move(w).finish();
}

}  // namespace lamina::io::zip
