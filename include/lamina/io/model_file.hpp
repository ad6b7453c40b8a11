// SPDX-License-Identifier: MIT
// lamina: the binary model file format (architecture, weights, compile settings, optimizer and random state).
#pragma once

/*
# The lamina model file, format version 3

`Sequential::save(path)` writes it; `lamina::load_model<S>(path)` reads it. It holds all a
model is: the layers, the weights, the compile settings (loss, optimizer with its
hyperparameters, metrics), the optimizer's state (step count and slots such as momentum)
and the model's random stream. A loaded model predicts bit for bit as the saved one did,
and its `fit` goes on exactly where the saved one stopped (on any number of threads where
lamina's float kernels do the products; with the same thread count otherwise).

Every number is **little-endian**, whatever the machine. `u8/u32/u64` are unsigned
integers, `i64` a two's complement signed one, `f64` an IEEE 754 binary64, and `scalar`
an IEEE 754 binary32 (float) or binary64 (double) as the scalar tag says. `str` is a
`u32` byte count then that many bytes of printable ASCII (0x20-0x7E), at most 1024.

| offset | size | field |
|---|---|---|
| 0  | 8 | magic `89 4C 4D 4E 0D 0A 1A 0A` ("\x89LMN\r\n\x1A\n", PNG's trick: a text-mode transfer breaks it) |
| 8  | 4 | u32 format version: 3 (1 and 2 are read too). A reader refuses versions newer than its own. |
| 12 | 4 | u32 scalar tag: 4 = float (binary32), 8 = double (binary64); every `scalar` below has this size |
| 16 | 8 | u64 size of the whole file in bytes, checksum included |
| 24 | . | body (below) |
| size - 4 | 4 | u32 CRC-32 (IEEE 802.3, zlib's `crc32`) of bytes [0, size - 4) |

Body of version 3, in order. The layers are described generically, as each layer describes
itself (`Layer::kind()` and `Layer::get_config()`); the registry (lamina/layers/registry.hpp)
builds them again, so a new kind of layer needs no change here.

    input       u32 R (0 for a model without layers), then R x u64: the input shape of one
                sample, e.g. 28, 28, 1 (each >= 1)
    layers      u32 L, then L layers, each:
                  str kind: the layer's class name as Keras names it ("Dense", "Activation",
                      "Dropout", "Flatten", "Reshape", or a kind registered by the program)
                  u32 F, then F fields of its config, each: str name, u8 type, then the value:
                      0 boolean: u8 0 or 1
                      1 integer: i64
                      2 number: f64
                      3 text: str
                      4 list of integers: u32 n, n x i64
                      5 list of numbers: u32 n, n x f64
                  (e.g. Dense: units 1, kernel_initializer 3, bias_initializer 3,
                  kernel_regularizer 5 with (l1, l2); Activation: activation 3; Dropout:
                  rate 2; Flatten: none; Reshape: target_shape 4)
    weights     u64 P, then P x scalar: every layer's parameters in order, each layer's weight
                arrays (Layer::weight_specs(): a Dense layer's kernel, input_dim x units, then
                its bias) one after the other, row-major
    compiled    u8: 0 (nothing follows until "random") or 1, then:
                  str loss (Keras name: categorical_crossentropy, mean_squared_error)
                  u32 C, then C x (str name, f64 value): the loss's options (from_logits)
                  u32 M, then M x str metric (accuracy)
                  str optimizer class name (SGD, Adam, RMSprop, Adagrad)
                  u32 H, then H x (str name, f64 value): hyperparameters; booleans as 0 or 1
                     SGD:     learning_rate, momentum, nesterov, decay
                     Adam:    learning_rate, beta_1, beta_2, epsilon, amsgrad
                     RMSprop: learning_rate, rho, momentum, epsilon, centered
                     Adagrad: learning_rate, initial_accumulator_value, epsilon
                  i64 iterations: steps taken (SGD's decay and Adam's bias correction use it),
                     0 to 2^53
                  u32 K, then K slots in this order, each: str name, u64 n, n x scalar (n = P)
                     SGD:     "momentum" (the velocity), only when momentum > 0
                     Adam:    "momentum" (m), "velocity" (v), and "velocity_hat" when amsgrad
                     RMSprop: "velocity", then "momentum" when momentum > 0, then
                              "average_gradient" when centered
                     Adagrad: "accumulator"
    random      u32 N, then N x u64: the numbers of the model's std::mt19937_64 state as
                the C++ standard library writes it in text (libstdc++: the 312 state words,
                then the position; so N = 313). The zero state (every draw 0) is refused.

Nothing may follow the random state but the checksum. P must be what the layers hold; the
loader checks it once the layers are built, before it allocates their buffers.

Versions 1 and 2 (still read) had a fixed set of kinds and another order: layers, each
`str kind` then Dense: u64 input_dim, u64 units (version 2: f64 l1, f64 l2); Activation:
str activation; Dropout (version 2): f64 rate; then compiled (without the loss's options),
random, and the weights last.

Reading checks, in this order, and throws `lamina::io_error` naming the file, the problem
and its byte offset, never allocating more than the file's size justifies: the magic
(naming zip/.npz, HDF5 and gzip files when it sees one), the version (0 is invalid; a
newer one asks for a newer lamina), the stored size against the real one (truncated file
or trailing bytes), the checksum (any flipped byte), the scalar tag, then every field.

**float and double**: a file keeps the scalar type of the model that wrote it, and
`load_model<S>` refuses a file of the other type with an `io_error` that says which type
the file holds. It does not convert: a float model computes in float, so a double copy
could not predict bit for bit as the original, and narrowing double weights would lose
precision silently. (To move weights between types, `load_model` the file with its own
type and copy `get_weights()`, converted with `.cast<T>()`, into the other model.)

**Random state portability**: the random stream is stored as the standard library writes
it, so a file moves between machines and compilers that use the same library (libstdc++
on Linux); one written by another library (libc++ writes 312 numbers) is refused with an
`io_error`, never misread.

A new format version will be needed for a change to a field's meaning; new layer kinds,
config fields and optimizers fit version 3 as it is.
*/

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <utility>
#include <vector>

#include <lamina/core/config.hpp>
#include <lamina/core/error.hpp>
#include <lamina/core/shape.hpp>
#include <lamina/core/types.hpp>
#include <lamina/io/crc32.hpp>
#include <lamina/io/file.hpp>
#include <lamina/optimizers/optimizer.hpp>

namespace lamina::io {

/// The format version this lamina writes and the newest it reads.
inline constexpr std::uint32_t model_format_version = 3;

/// The 8-byte magic that opens every model file: "\x89LMN\r\n\x1A\n".
inline constexpr unsigned char model_magic[8] = {0x89, 'L', 'M', 'N', '\r', '\n', 0x1A, '\n'};

/// One layer of a model file: its kind and its config, as the layer describes itself.
struct LayerRecord {
    std::string kind;
    Config config;
};

/// Everything a model file holds, as plain data (the format is in this header's leading
/// comment). `Sequential` converts itself to and from it.
template <Scalar S>
struct ModelRecord {
    /// The shape of one input sample (empty without layers).
    Shape input_shape;
    std::vector<LayerRecord> layers;
    bool compiled = false;
    /// Only when compiled: the loss's, the metrics' and the optimizer's names and settings.
    std::string loss;
    std::vector<std::pair<std::string, double>> loss_config;
    std::vector<std::string> metrics;
    OptimizerConfig optimizer;
    OptimizerState<S> optimizer_state;
    /// The model's random stream, as `Random::state()` writes it.
    std::string random_state;
    /// Every parameter, laid out as `Sequential::parameters()`.
    Vector<S> weights;
};

namespace detail {

inline constexpr std::string_view model_reader = "lamina::load_model";
inline constexpr std::size_t model_header_size = 24;  // magic, version, scalar tag, size
inline constexpr std::size_t max_name_length = 1024;

/// Appends little-endian fields to a byte buffer.
class LittleEndianWriter {
public:
    void u8(std::uint8_t v) { bytes_.push_back(std::byte{v}); }
    void u32(std::uint32_t v) { put(v, 4); }
    void u64(std::uint64_t v) { put(v, 8); }
    void i64(std::int64_t v) { put(static_cast<std::uint64_t>(v), 8); }
    void f64(double v) { put(std::bit_cast<std::uint64_t>(v), 8); }
    template <Scalar S>
    void scalars(const S* p, std::size_t n) {
        using U = std::conditional_t<sizeof(S) == 4, std::uint32_t, std::uint64_t>;
        bytes_.reserve(bytes_.size() + n * sizeof(S));
        for (std::size_t i = 0; i < n; ++i) put(std::bit_cast<U>(p[i]), sizeof(S));
    }
    /// A `str`: u32 length and the bytes. \throws lamina::error for a name the format cannot hold.
    void str(std::string_view s) {
        if (s.size() > max_name_length)
            throw error("lamina: cannot save the name '" + std::string(s.substr(0, 40)) + "...': longer than " +
                        std::to_string(max_name_length) + " bytes");
        for (const char c : s)
            if (c < 0x20 || c > 0x7E)
                throw error("lamina: cannot save the name '" + std::string(s) + "': not printable ASCII");
        u32(static_cast<std::uint32_t>(s.size()));
        for (const char c : s) bytes_.push_back(static_cast<std::byte>(c));
    }
    /// Overwrites 8 bytes at `offset` with `v`.
    void patch_u64(std::size_t offset, std::uint64_t v) {
        for (int i = 0; i < 8; ++i)
            bytes_[offset + std::size_t(i)] = std::byte(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    std::vector<std::byte>& bytes() { return bytes_; }

private:
    void put(std::uint64_t v, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) bytes_.push_back(std::byte(static_cast<std::uint8_t>(v >> (8 * i))));
    }
    std::vector<std::byte> bytes_;
};

/// Reads little-endian fields from [pos, end) of a byte span; every shortfall and every
/// malformed value is an `io_error` "lamina::load_model: '<name>': <what> at byte <offset>".
class LittleEndianReader {
public:
    LittleEndianReader(std::span<const std::byte> bytes, std::size_t pos, std::size_t end, std::string_view name)
        : bytes_(bytes), pos_(pos), end_(end), name_(name) {}

    std::size_t pos() const { return pos_; }
    std::size_t left() const { return end_ - pos_; }

    /// Throws io_error "lamina::load_model: '<name>': <parts...>".
    template <class... Parts>
    [[noreturn]] void fail(const Parts&... parts) const {
        raise_io_error(model_reader, name_, parts...);
    }

    /// Fails unless `n` more bytes of `what` fit before the end of the body.
    void need(std::uint64_t n, std::string_view what) const {
        if (n > left())
            fail("truncated or malformed file: ", what, " at byte ", pos_, " needs ", n,
                 " bytes, but the data ends at byte ", end_);
    }

    /// A u32 count of items of at least `bytes_each` bytes each, failing when the rest of the
    /// body cannot hold that many (before anything is allocated for them).
    std::uint32_t count(std::string_view what, std::size_t bytes_each) {
        const std::size_t at = pos_;
        const std::uint32_t n = u32(what);
        if (n > left() / bytes_each) fail(what, " ", n, " at byte ", at, " is more than the file can hold");
        return n;
    }

    std::uint8_t u8(std::string_view what) { return std::uint8_t(get(1, what)); }
    std::uint32_t u32(std::string_view what) { return std::uint32_t(get(4, what)); }
    std::uint64_t u64(std::string_view what) { return get(8, what); }
    std::int64_t i64(std::string_view what) { return static_cast<std::int64_t>(get(8, what)); }
    double f64(std::string_view what) { return std::bit_cast<double>(get(8, what)); }

    /// A `str` of printable ASCII, at most `max_name_length` bytes.
    std::string str(std::string_view what) {
        const std::size_t at = pos_;
        const std::uint32_t n = u32(what);
        if (n > max_name_length)
            fail(what, " at byte ", at, " is ", n, " bytes long: expected at most ", max_name_length);
        need(n, what);
        std::string s(n, '\0');
        for (std::uint32_t i = 0; i < n; ++i) {
            const auto c = std::to_integer<unsigned char>(bytes_[pos_ + i]);
            if (c < 0x20 || c > 0x7E)
                fail(what, " at byte ", at, " holds byte ", unsigned(c), " at byte ", pos_ + i,
                     ": expected printable ASCII");
            s[i] = char(c);
        }
        pos_ += n;
        return s;
    }

    /// `n` scalars into a vector, after checking that the file holds them.
    template <Scalar S>
    Vector<S> scalars(std::uint64_t n, std::string_view what) {
        if (n > left() / sizeof(S))
            fail("truncated or malformed file: ", what, " at byte ", pos_, " promises ", n, " values of ", sizeof(S),
                 " bytes, but only ", left(), " bytes are left before the checksum");
        Vector<S> v(static_cast<Index>(n));
        using U = std::conditional_t<sizeof(S) == 4, std::uint32_t, std::uint64_t>;
        for (Index i = 0; i < v.size(); ++i) v[i] = std::bit_cast<S>(static_cast<U>(get(sizeof(S), what)));
        return v;
    }

private:
    std::uint64_t get(std::size_t n, std::string_view what) {
        need(n, what);
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < n; ++i)
            v |= std::uint64_t(std::to_integer<std::uint8_t>(bytes_[pos_ + i])) << (8 * i);
        pos_ += n;
        return v;
    }

    std::span<const std::byte> bytes_;
    std::size_t pos_, end_;
    std::string_view name_;
};

/// What a file of another kind begins with, for the wrong-magic message.
inline std::string_view what_file_is(std::span<const std::byte> b) {
    const auto starts = [&](std::string_view s) {
        if (b.size() < s.size()) return false;
        for (std::size_t i = 0; i < s.size(); ++i)
            if (std::to_integer<unsigned char>(b[i]) != static_cast<unsigned char>(s[i])) return false;
        return true;
    };
    if (starts("PK\x03\x04") || starts("PK\x05\x06")) return "a zip archive (weights in .npz? use load_weights)";
    if (starts("\x93NUMPY")) return "a NumPy .npy array";
    if (starts("\x89HDF\r\n\x1A\n")) return "an HDF5 file (Keras .h5 models are not supported)";
    if (starts("\x1F\x8B")) return "gzip-compressed data (gunzip it first)";
    if (starts("\x89PNG")) return "a PNG image";
    return "";
}

}  // namespace detail

namespace detail {

// Config field types in the file (see the format above).
enum class FieldType : std::uint8_t { boolean = 0, integer = 1, number = 2, text = 3, integers = 4, numbers = 5 };

/// Writes one config field's value, its type first.
inline void write_config_value(LittleEndianWriter& w, const ConfigValue& value) {
    std::visit(
        [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, bool>) {
                w.u8(std::uint8_t(FieldType::boolean));
                w.u8(v ? 1 : 0);
            } else if constexpr (std::is_same_v<T, Index>) {
                w.u8(std::uint8_t(FieldType::integer));
                w.i64(std::int64_t(v));
            } else if constexpr (std::is_same_v<T, double>) {
                w.u8(std::uint8_t(FieldType::number));
                w.f64(v);
            } else if constexpr (std::is_same_v<T, std::string>) {
                w.u8(std::uint8_t(FieldType::text));
                w.str(v);
            } else if constexpr (std::is_same_v<T, std::vector<Index>>) {
                w.u8(std::uint8_t(FieldType::integers));
                w.u32(static_cast<std::uint32_t>(v.size()));
                for (const Index x : v) w.i64(std::int64_t(x));
            } else {
                w.u8(std::uint8_t(FieldType::numbers));
                w.u32(static_cast<std::uint32_t>(v.size()));
                for (const double x : v) w.f64(x);
            }
        },
        value);
}

/// Reads one config field's value, its type first; `what` names it in messages.
inline ConfigValue read_config_value(LittleEndianReader& r, const std::string& what) {
    const std::size_t at = r.pos();
    const std::uint8_t type = r.u8(what + " type");
    switch (FieldType(type)) {
        case FieldType::boolean: {
            const std::uint8_t v = r.u8(what);
            if (v > 1) r.fail(what, " at byte ", at, " is the boolean ", unsigned(v), ": expected 0 or 1");
            return v == 1;
        }
        case FieldType::integer: return Index(r.i64(what));
        case FieldType::number: return r.f64(what);
        case FieldType::text: return r.str(what);
        case FieldType::integers: {
            const std::uint32_t n = r.count(what + " length", 8);
            std::vector<Index> v(n);
            for (auto& x : v) x = Index(r.i64(what));
            return v;
        }
        case FieldType::numbers: {
            const std::uint32_t n = r.count(what + " length", 8);
            std::vector<double> v(n);
            for (auto& x : v) x = r.f64(what);
            return v;
        }
    }
    r.fail(what, " at byte ", at, " has the unknown type ", unsigned(type), ": expected 0 to 5");
}

/// Reads the layers of a version 1 or 2 file (a fixed set of kinds, each with its own fields)
/// into generic records, checking that their sizes chain and that the file can hold their
/// parameters; returns the parameter count.
inline std::uint64_t read_legacy_layers(LittleEndianReader& r, std::uint32_t version, std::uint64_t max_params,
                                        Shape& input_shape, std::vector<LayerRecord>& layers) {
    const std::size_t layers_at = r.pos();
    const std::uint32_t layer_count = r.u32("the layer count");
    if (layer_count > r.left() / 8)
        r.fail("the layer count ", layer_count, " at byte ", layers_at, " is more than the ", r.left(),
               " bytes left can describe");
    layers.reserve(layer_count);
    std::uint64_t params = 0;
    Index width = 0;  // the previous layer's output width
    for (std::uint32_t i = 0; i < layer_count; ++i) {
        const std::string where = "layer " + std::to_string(i);
        const std::size_t at = r.pos();
        LayerRecord layer;
        layer.kind = r.str(where + " kind");
        if (layer.kind == "Dense") {
            const std::uint64_t in = r.u64(where + " input_dim"), units = r.u64(where + " units");
            if (in == 0 || units == 0 || in > max_params || units > max_params)
                r.fail(where, " (Dense, at byte ", at, ") is ", in, " x ", units,
                       ": expected sizes from 1 to what the file can hold (", max_params, " weights)");
            if (i > 0 && Index(in) != width)
                r.fail(where, " (Dense, at byte ", at, ") takes input_dim ", in, " but the layer before outputs ",
                       width);
            const std::uint64_t count = (in + 1) * units;  // may wrap: checked by the division
            if (count / units != in + 1 || count > max_params - params)
                r.fail(where, " (Dense, at byte ", at, ") has (", in, " + 1) x ", units,
                       " weights, more than the file's size can hold (", max_params, " in all)");
            params += count;
            if (i == 0) input_shape = Shape{Index(in)};
            width = Index(units);
            double l1 = 0, l2 = 0;
            if (version >= 2) {
                const std::size_t factors_at = r.pos();
                l1 = r.f64(where + " l1");
                l2 = r.f64(where + " l2");
                if (!(l1 >= 0 && l2 >= 0) || !std::isfinite(l1) || !std::isfinite(l2))
                    r.fail(where, " (Dense, at byte ", factors_at, ") has the regularizer factors l1 = ", l1,
                           ", l2 = ", l2, ": expected finite values >= 0");
            }
            layer.config = {{"units", Index(units)}, {"kernel_regularizer", std::vector<double>{l1, l2}}};
        } else if (layer.kind == "Activation") {
            if (i == 0) r.fail(where, " (at byte ", at, ") is an Activation: the first layer must be Dense");
            layer.config = {{"activation", r.str(where + " activation")}};
        } else if (layer.kind == "Dropout" && version >= 2) {
            if (i == 0) r.fail(where, " (at byte ", at, ") is a Dropout: the first layer must be Dense");
            layer.config = {{"rate", r.f64(where + " rate")}};
        } else {
            r.fail(where, " at byte ", at, " is of the unknown kind '", layer.kind, "'; known: Dense, Activation",
                   version >= 2 ? ", Dropout" : " (format version 1)");
        }
        layers.push_back(std::move(layer));
    }
    return params;
}

}  // namespace detail

/// The bytes of a model file holding `record` (the current format version, little-endian, with
/// its checksum).
/// \throws lamina::error if a name or text in `record` is over 1024 bytes or not printable
///         ASCII, or its random state is not a list of numbers.
template <Scalar S>
[[nodiscard]] std::vector<std::byte> encode_model(const ModelRecord<S>& record) {
    detail::LittleEndianWriter w;
    for (const unsigned char c : model_magic) w.u8(c);
    w.u32(model_format_version);
    w.u32(sizeof(S));
    w.u64(0);  // the file size, patched below
    w.u32(static_cast<std::uint32_t>(record.input_shape.rank()));
    for (const Index d : record.input_shape) w.u64(static_cast<std::uint64_t>(d));
    w.u32(static_cast<std::uint32_t>(record.layers.size()));
    for (const auto& layer : record.layers) {
        w.str(layer.kind);
        w.u32(static_cast<std::uint32_t>(layer.config.fields().size()));
        for (const auto& [field, value] : layer.config.fields()) {
            w.str(field);
            detail::write_config_value(w, value);
        }
    }
    w.u64(static_cast<std::uint64_t>(record.weights.size()));
    w.scalars(record.weights.data(), std::size_t(record.weights.size()));
    w.u8(record.compiled ? 1 : 0);
    if (record.compiled) {
        w.str(record.loss);
        w.u32(static_cast<std::uint32_t>(record.loss_config.size()));
        for (const auto& [option, value] : record.loss_config) {
            w.str(option);
            w.f64(value);
        }
        w.u32(static_cast<std::uint32_t>(record.metrics.size()));
        for (const auto& m : record.metrics) w.str(m);
        w.str(record.optimizer.name);
        w.u32(static_cast<std::uint32_t>(record.optimizer.hyperparameters.size()));
        for (const auto& [hp, value] : record.optimizer.hyperparameters) {
            w.str(hp);
            w.f64(value);
        }
        w.i64(record.optimizer_state.iterations);
        w.u32(static_cast<std::uint32_t>(record.optimizer_state.slots.size()));
        for (const auto& [slot, values] : record.optimizer_state.slots) {
            w.str(slot);
            w.u64(static_cast<std::uint64_t>(values.size()));
            w.scalars(values.data(), std::size_t(values.size()));
        }
    }
    std::vector<std::uint64_t> numbers;
    {
        std::istringstream in(record.random_state);
        std::uint64_t v = 0;
        while (in >> v) numbers.push_back(v);
        if (!in.eof()) throw error("lamina: cannot save the random state: it is not a list of numbers");
    }
    w.u32(static_cast<std::uint32_t>(numbers.size()));
    for (const auto v : numbers) w.u64(v);

    auto& bytes = w.bytes();
    w.patch_u64(16, bytes.size() + 4);
    const std::uint32_t crc = crc32(bytes);
    w.u32(crc);
    return std::move(bytes);
}

namespace detail {

/// Checks a model file's magic, version, size, checksum and scalar type (see the format
/// above) and returns its version; the body lies in [model_header_size, bytes.size() - 4).
/// \throws io_error as `decode_model`.
template <Scalar S>
std::uint32_t check_model_header(std::span<const std::byte> bytes, std::string_view name) {
    const std::size_t size = bytes.size();
    LittleEndianReader head(bytes, 0, size, name);
    if (size < sizeof(model_magic))
        head.fail("not a lamina model file: it holds ", size, " bytes, too short for the 8-byte magic");
    if (std::memcmp(bytes.data(), model_magic, sizeof(model_magic)) != 0) {
        const auto what = what_file_is(bytes);
        head.fail("not a lamina model file: wrong magic at byte 0 (expected 89 4C 4D 4E 0D 0A 1A 0A)",
                  what.empty() ? "" : "; it looks like ", what);
    }
    constexpr std::size_t min_size = model_header_size + 4;
    if (size < min_size)
        head.fail("truncated file: it holds ", size, " bytes, fewer than the ", min_size,
                  " of a header and a checksum");
    LittleEndianReader header(bytes, 8, model_header_size, name);
    const std::uint32_t version = header.u32("the format version");
    if (version == 0) head.fail("invalid format version 0 at byte 8");
    if (version > model_format_version)
        head.fail("format version ", version, " at byte 8 is newer than this lamina reads (", model_format_version,
                  "): load it with a newer lamina");
    const std::uint32_t tag = header.u32("the scalar tag");
    const std::uint64_t stored_size = header.u64("the file size");
    if (stored_size > size)
        head.fail("truncated file: the header (byte 16) gives its size as ", stored_size, " bytes, but it holds only ",
                  size);
    if (stored_size < size)
        head.fail(size - stored_size, " trailing bytes: the header (byte 16) gives the file's size as ", stored_size,
                  " bytes, but it holds ", size);
    const std::size_t body_end = size - 4;
    LittleEndianReader tail(bytes, body_end, size, name);
    const std::uint32_t stored_crc = tail.u32("the checksum");
    const std::uint32_t actual_crc = crc32(bytes.first(body_end));
    if (stored_crc != actual_crc) {
        std::ostringstream s;
        s << std::hex << std::uppercase << "computed 0x" << actual_crc << ", stored 0x" << stored_crc;
        head.fail("checksum mismatch: the file is damaged (CRC-32 of bytes [0, ", body_end, "): ", s.str(), " at byte ",
                  body_end, ")");
    }
    const auto type_name = [](std::uint32_t t) { return t == 4 ? "float (4-byte)" : "double (8-byte)"; };
    if (tag != 4 && tag != 8) head.fail("unknown scalar tag ", tag, " at byte 12: expected 4 (float) or 8 (double)");
    if (tag != sizeof(S))
        head.fail("the file holds ", type_name(tag), " weights, but was loaded as ", type_name(sizeof(S)),
                  "; lamina does not convert: load it with load_model<", tag == 4 ? "float" : "double", ">");

    return version;
}

}  // namespace detail

/// Reads a whole model file from memory, checking everything (see the format above).
/// Allocates nothing that the file's size does not account for.
/// \param bytes the file's bytes.
/// \param name what error messages call the data (the file name).
/// \throws lamina::io_error "lamina::load_model: '<name>': <problem>", with the byte offset
///         where one applies, for a file that is not exactly one well-formed model file of
///         scalar type `S` (wrong magic, newer or invalid version, truncated, trailing bytes,
///         checksum mismatch, a float file read as double or the reverse, counts that the
///         file cannot hold or that do not match each other). The layers' kinds and configs
///         are checked by the registry when the model is built from the record.
template <Scalar S>
[[nodiscard]] ModelRecord<S> decode_model(std::span<const std::byte> bytes, std::string_view name = "<memory>") {
    const std::uint32_t version = detail::check_model_header<S>(bytes, name);
    const std::size_t size = bytes.size(), body_end = size - 4;
    constexpr std::size_t min_size = detail::model_header_size + 4;
    ModelRecord<S> record;
    detail::LittleEndianReader r(bytes, detail::model_header_size, body_end, name);
    const std::uint64_t max_params = (size - min_size) / sizeof(S);

    // The weights: P values, which every optimizer slot must match too.
    const auto read_weights = [&](std::optional<std::uint64_t> params) {
        const std::size_t at = r.pos();
        const std::uint64_t count = r.u64("the weight count");
        if (params && count != *params)
            r.fail("the weight count at byte ", at, " is ", count, ", but the layers have ", *params, " parameters");
        if (count > max_params)
            r.fail("the weight count at byte ", at, " is ", count, ", more than the file can hold (", max_params, ")");
        record.weights = r.scalars<S>(count, "the weights");
    };
    const auto read_compiled = [&](std::uint64_t params) {
        const std::size_t compiled_at = r.pos();
        const std::uint8_t compiled = r.u8("the compiled flag");
        if (compiled > 1)
            r.fail("the compiled flag at byte ", compiled_at, " is ", unsigned(compiled), ": expected 0 or 1");
        record.compiled = compiled == 1;
        if (!record.compiled) return;
        if (record.layers.empty())
            r.fail("the compiled flag at byte ", compiled_at, " is set for a model with no layers");
        record.loss = r.str("the loss");
        if (version >= 3) {
            const std::uint32_t options = r.count("the loss option count", 12);
            for (std::uint32_t i = 0; i < options; ++i) {
                std::string option = r.str("a loss option name");
                const double value = r.f64("loss option '" + option + "'");
                record.loss_config.emplace_back(std::move(option), value);
            }
        }
        const std::uint32_t metrics = r.count("the metric count", 4);
        for (std::uint32_t i = 0; i < metrics; ++i) record.metrics.push_back(r.str("a metric"));
        record.optimizer.name = r.str("the optimizer");
        const std::uint32_t hps = r.count("the hyperparameter count", 12);
        for (std::uint32_t i = 0; i < hps; ++i) {
            std::string hp = r.str("a hyperparameter name");
            const double value = r.f64("hyperparameter '" + hp + "'");
            record.optimizer.hyperparameters.emplace_back(std::move(hp), value);
        }
        const std::size_t it_at = r.pos();
        record.optimizer_state.iterations = r.i64("the optimizer's iterations");
        if (record.optimizer_state.iterations < 0 || record.optimizer_state.iterations > lamina::detail::max_iterations)
            r.fail("the optimizer's iterations at byte ", it_at, " are ", record.optimizer_state.iterations,
                   ": expected 0 to 2^53");
        const std::uint32_t slots = r.count("the slot count", 12);
        for (std::uint32_t i = 0; i < slots; ++i) {
            std::string slot = r.str("a slot name");
            const std::size_t n_at = r.pos();
            const std::uint64_t n = r.u64("slot '" + slot + "' length");
            if (n != params)
                r.fail("slot '", slot, "' at byte ", n_at, " holds ", n, " values, but the layers have ", params,
                       " parameters");
            Vector<S> values = r.scalars<S>(n, "slot '" + slot + "'");
            record.optimizer_state.slots.emplace_back(std::move(slot), std::move(values));
        }
    };
    const auto read_random = [&] {
        const std::size_t random_at = r.pos();
        const std::uint32_t numbers = r.u32("the random state's length");
        if (numbers == 0 || numbers > 4096)
            r.fail("the random state at byte ", random_at, " has ", numbers, " numbers: expected 1 to 4096");
        r.need(std::uint64_t(numbers) * 8, "the random state");
        for (std::uint32_t i = 0; i < numbers; ++i) {
            if (i > 0) record.random_state += ' ';
            record.random_state += std::to_string(r.u64("the random state"));
        }
    };

    if (version >= 3) {
        const std::size_t shape_at = r.pos();
        const std::uint32_t rank = r.count("the input shape's rank", 8);
        std::vector<Index> dims(rank);
        for (auto& d : dims) {
            const std::uint64_t v = r.u64("the input shape");
            if (v == 0 || v > std::uint64_t(std::numeric_limits<Index>::max()))
                r.fail("the input shape at byte ", shape_at, " has the dimension ", v, ": expected >= 1");
            d = Index(v);
        }
        try {
            if (rank > 0) record.input_shape = Shape::checked(std::move(dims), "the input shape");
        } catch (const std::invalid_argument& e) {
            r.fail(e.what(), " (at byte ", shape_at, ")");
        }
        const std::size_t layers_at = r.pos();
        const std::uint32_t layer_count = r.count("the layer count", 8);
        if ((layer_count == 0) != (rank == 0))
            r.fail("the model at byte ", layers_at, " has ", layer_count, " layers and an input shape of rank ", rank,
                   ": expected both or neither");
        record.layers.reserve(layer_count);
        for (std::uint32_t i = 0; i < layer_count; ++i) {
            const std::string where = "layer " + std::to_string(i);
            LayerRecord layer;
            layer.kind = r.str(where + " kind");
            const std::uint32_t fields = r.count(where + " field count", 6);
            for (std::uint32_t f = 0; f < fields; ++f) {
                const std::size_t field_at = r.pos();
                std::string field = r.str(where + " field name");
                if (layer.config.find(field) != nullptr)
                    r.fail(where, " (", layer.kind, ") names the field '", field, "' twice (at byte ", field_at, ")");
                ConfigValue value = detail::read_config_value(r, where + " field '" + field + "'");
                layer.config.set(std::move(field), std::move(value));
            }
            record.layers.push_back(std::move(layer));
        }
        read_weights(std::nullopt);
        read_compiled(std::uint64_t(record.weights.size()));
        read_random();
    } else {
        const std::uint64_t params = detail::read_legacy_layers(r, version, max_params, record.input_shape,
                                                                record.layers);
        read_compiled(params);
        read_random();
        read_weights(params);
    }
    if (r.left() != 0)
        r.fail(r.left(), " bytes after the ", version >= 3 ? "random state" : "weights", ", from byte ", r.pos(),
               ": expected the checksum at byte ", body_end);
    return record;
}

}  // namespace lamina::io
