// SPDX-License-Identifier: MIT
// lamina: the Keras-style progress report of fit (a live bar on a terminal, a line per epoch otherwise).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>

#if defined(_WIN32)
#include <io.h>
#else
#include <unistd.h>
#endif

#include <lamina/core/types.hpp>

namespace lamina {

/// Whether standard output is a terminal (where a live progress bar makes sense).
[[nodiscard]] inline bool stdout_is_terminal() noexcept {
#if defined(_WIN32)
    return _isatty(_fileno(stdout)) != 0;
#else
    return isatty(STDOUT_FILENO) != 0;
#endif
}

/// What one epoch's line reports.
struct EpochLogs {
    double loss = 0;
    double accuracy = 0;
    std::optional<double> val_loss{};
    std::optional<double> val_accuracy{};
};

namespace detail {

/// Whether this translation unit was compiled without optimisation (GCC's and Clang's
/// __OPTIMIZE__; false where a compiler does not say). Only a message depends on it.
constexpr bool built_without_optimization() noexcept {
#if (defined(__GNUC__) || defined(__clang__)) && !defined(__OPTIMIZE__)
    return true;
#else
    return false;
#endif
}

}  // namespace detail

/// Reports fit's progress as Keras does for `verbose`:
/// 0 nothing; 1 a live bar redrawn at most ten times a second when `live` (a terminal),
/// else one line per epoch; 2 one line per epoch. Never a line per batch, and no carriage
/// returns unless `live`.
class Progress {
public:
    Progress(int verbose, Index epochs, Index steps, bool show_accuracy, std::ostream& out = std::cout,
             bool live = stdout_is_terminal())
        : verbose_(verbose), epochs_(epochs), steps_(steps), show_accuracy_(show_accuracy), out_(out),
          live_(live && verbose == 1) {}

    /// Once per program, where fit reports at all: a line saying that the program was built
    /// without optimisation (then training runs tens of times slower), with the fix.
    void unoptimized_notice() {
        static std::atomic<bool> said{false};
        if (verbose_ == 0 || !detail::built_without_optimization() || said.exchange(true)) return;
        out_ << unoptimized_text << '\n' << std::flush;
    }
    static constexpr const char* unoptimized_text =
        "lamina: this program was compiled without optimisation (no -O2), so training runs tens of times "
        "slower; build it with -O2 (CMake: -DCMAKE_BUILD_TYPE=Release)";

    void epoch_begin(Index epoch) {
        epoch_ = epoch;
        epoch_start_ = clock::now();
        last_draw_ = epoch_start_;
        if (live_) out_ << "Epoch " << epoch + 1 << "/" << epochs_ << '\n' << std::flush;
    }

    /// After batch `step` (1-based) with the epoch's running mean loss and accuracy so far.
    void batch_end(Index step, double loss, double accuracy) {
        if (!live_) return;
        const auto now = clock::now();
        if (step != steps_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
        last_draw_ = now;
        const double elapsed = seconds(now - epoch_start_);
        std::ostringstream line;
        line << '\r' << counter(step) << ' ' << bar(step);
        if (step < steps_) line << " - ETA: " << format_time(elapsed / double(step) * double(steps_ - step));
        else line << " - " << format_time(elapsed);
        line << metrics(loss, accuracy) << "\x1b[K";
        out_ << line.str() << std::flush;
    }

    /// After the epoch and its validation; `total_elapsed` counts every epoch so far.
    void epoch_end(const EpochLogs& logs, double total_elapsed) {
        if (verbose_ == 0) return;
        const double took = seconds(clock::now() - epoch_start_);
        const double eta = total_elapsed / double(epoch_ + 1) * double(epochs_ - epoch_ - 1);
        std::ostringstream line;
        if (live_) {
            line << '\r' << counter(steps_) << ' ' << bar(steps_) << " - " << format_time(took);
        } else {
            line << "Epoch " << epoch_ + 1 << "/" << epochs_ << " - " << counter(steps_) << " - " << format_time(took);
        }
        line << " " << format_time(took / double(steps_)) << "/step" << metrics(logs.loss, logs.accuracy);
        if (logs.val_loss) line << " - val_loss: " << fixed4(*logs.val_loss);
        if (logs.val_accuracy && show_accuracy_) line << " - val_accuracy: " << fixed4(*logs.val_accuracy);
        if (epoch_ + 1 < epochs_) line << " - ETA: " << format_time(eta);
        if (live_) line << "\x1b[K";
        out_ << line.str() << '\n' << std::flush;
    }

    /// "1.2s", "35ms", "120us": how Keras prints a duration.
    [[nodiscard]] static std::string format_time(double s) {
        char buf[32];
        if (s >= 1) std::snprintf(buf, sizeof buf, "%.1fs", s);
        else if (s >= 1e-3) std::snprintf(buf, sizeof buf, "%.0fms", s * 1e3);
        else std::snprintf(buf, sizeof buf, "%.0fus", s * 1e6);
        return buf;
    }

private:
    using clock = std::chrono::steady_clock;
    static double seconds(clock::duration d) { return std::chrono::duration<double>(d).count(); }
    static std::string fixed4(double v) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.4f", v);
        return buf;
    }
    [[nodiscard]] std::string counter(Index step) const {
        const auto total = std::to_string(steps_);
        auto now = std::to_string(step);
        return std::string(total.size() - now.size(), ' ') + now + "/" + total;
    }
    [[nodiscard]] std::string bar(Index step) const {
        constexpr Index width = 30;
        const Index filled = steps_ > 0 ? width * step / steps_ : width;
        std::string b(std::size_t(width + 2), '.');
        b.front() = '[';
        b.back() = ']';
        for (Index i = 0; i < filled; ++i) b[std::size_t(i + 1)] = '=';
        if (filled < width) b[std::size_t(filled + 1)] = '>';
        return b;
    }
    [[nodiscard]] std::string metrics(double loss, double accuracy) const {
        std::string m = " - loss: " + fixed4(loss);
        if (show_accuracy_) m += " - accuracy: " + fixed4(accuracy);
        return m;
    }

    int verbose_;
    Index epochs_, steps_;
    bool show_accuracy_;
    std::ostream& out_;
    bool live_;
    Index epoch_ = 0;
    clock::time_point epoch_start_{}, last_draw_{};
};

}  // namespace lamina
