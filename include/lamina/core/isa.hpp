// SPDX-License-Identifier: MIT
// lamina: which instruction set lamina's own kernels run on, chosen once at run time.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace lamina {

/// The instruction sets lamina's hand-written kernels (the float matrix products, the
/// non-zero masks, the byte-to-float conversion) are compiled for in every build, whatever
/// the compiler's `-m` flags: one is chosen at run time from the CPU, capped by the
/// environment variable `LAMINA_MAX_ISA`. The rest of the arithmetic (activations, losses,
/// optimizers, and every product in double) is Eigen's, at the instruction set the program
/// was compiled for.
enum class Isa {
    baseline,  ///< no kernels of lamina's own: Eigen's products (SSE2 on x86-64, NEON on ARM64)
    avx2,      ///< AVX2 + FMA (x86-64-v3: Intel Haswell, AMD Zen and later)
    avx512,    ///< AVX-512 F/VL/BW/DQ (x86-64-v4: Intel Skylake-SP, AMD Zen 4 and later)
};

/// The name `LAMINA_MAX_ISA` takes for `isa`: "baseline", "avx2" or "avx512".
constexpr std::string_view isa_name(Isa isa) noexcept {
    switch (isa) {
        case Isa::avx2: return "avx2";
        case Isa::avx512: return "avx512";
        default: return "baseline";
    }
}

/// The instruction set named by `text` as `LAMINA_MAX_ISA` takes it: "avx512", "avx2",
/// "baseline" (also "sse2", x86-64's baseline, and "none"), in any case; nothing otherwise.
inline std::optional<Isa> parse_isa(std::string_view text) noexcept {
    std::string lower(text);
    for (char& c : lower)
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    if (lower == "avx512") return Isa::avx512;
    if (lower == "avx2") return Isa::avx2;
    if (lower == "baseline" || lower == "sse2" || lower == "none") return Isa::baseline;
    return std::nullopt;
}

/// The best instruction set this CPU (and its operating system) supports among lamina's.
inline Isa cpu_isa() noexcept {
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                      __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
                      __builtin_cpu_supports("popcnt");
    const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
    return avx512 ? Isa::avx512 : avx2 ? Isa::avx2 : Isa::baseline;
#else
    return Isa::baseline;
#endif
}

/// What chose the kernels: the CPU's best, the cap asked for (`LAMINA_MAX_ISA`, as given;
/// empty when unset) and the result. A cap that names no instruction set chooses the
/// baseline, the safe reading of a cap, and `understood` is false.
struct IsaChoice {
    Isa cpu = Isa::baseline;
    std::string cap;
    bool understood = true;
    Isa chosen = Isa::baseline;
};

/// The choice for a CPU whose best is `cpu` under the cap `cap` (null: none).
inline IsaChoice choose_isa(Isa cpu, const char* cap) {
    IsaChoice choice{.cpu = cpu, .cap = cap ? cap : "", .understood = true, .chosen = cpu};
    if (!choice.cap.empty()) {
        const auto limit = parse_isa(choice.cap);
        choice.understood = limit.has_value();
        const Isa most = limit.value_or(Isa::baseline);
        if (most < choice.chosen) choice.chosen = most;
    }
    return choice;
}

/// The choice this program runs with: made once, on first use, from this CPU and the
/// environment variable `LAMINA_MAX_ISA`.
inline const IsaChoice& isa_choice() {
    static const IsaChoice choice = choose_isa(cpu_isa(), std::getenv("LAMINA_MAX_ISA"));
    return choice;
}

/// The instruction set lamina's kernels run on in this program.
inline Isa kernel_isa() { return isa_choice().chosen; }

/// One line on the kernels in use, for a banner or a summary: for example
/// "avx512 (the CPU's best)", "avx2 (LAMINA_MAX_ISA=avx2; the CPU has avx512)".
inline std::string kernel_description() {
    const IsaChoice& c = isa_choice();
    std::string text(isa_name(c.chosen));
    if (c.cap.empty()) return text + " (the CPU's best)";
    text += " (LAMINA_MAX_ISA=" + c.cap;
    if (!c.understood) text += " names no instruction set: expected avx512, avx2 or baseline";
    return text + "; the CPU has " + std::string(isa_name(c.cpu)) + ")";
}

}  // namespace lamina
