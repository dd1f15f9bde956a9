#ifndef KERNELGATE_CLIENT_DEADLINE_HPP
#define KERNELGATE_CLIENT_DEADLINE_HPP

#include <chrono>

namespace kernelgate {

/// A point on the steady clock by which a blocking call gives up. Converts implicitly from a
/// duration (counted from now) or a time point, so calls read `client.kernel_info(5s)`.
class deadline {
 public:
  using clock = std::chrono::steady_clock;

  deadline(clock::time_point at) noexcept : at_(at) {}  // NOLINT(google-explicit-constructor)
  template <class Rep, class Period>
  deadline(std::chrono::duration<Rep, Period> d) noexcept  // NOLINT(google-explicit-constructor)
      : at_(from_now(clamp(d))) {}

  [[nodiscard]] clock::time_point at() const noexcept { return at_; }
  [[nodiscard]] bool expired() const noexcept { return clock::now() >= at_; }
  /// Time left, never negative.
  [[nodiscard]] std::chrono::milliseconds remaining() const noexcept {
    const auto left = at_ - clock::now();
    return left <= clock::duration::zero() ? std::chrono::milliseconds(0)
                                           : std::chrono::ceil<std::chrono::milliseconds>(left);
  }
  /// The earlier of this deadline and now + `d`.
  [[nodiscard]] deadline capped(std::chrono::milliseconds d) const noexcept {
    const deadline other(d);
    return other.at_ < at_ ? other : *this;
  }

 private:
  // A year is "no practical limit"; clamping (compared in floating point, which cannot overflow)
  // keeps huge durations such as hours::max() from wrapping the clock.
  template <class Rep, class Period>
  static std::chrono::milliseconds clamp(std::chrono::duration<Rep, Period> d) noexcept {
    constexpr std::chrono::milliseconds year = std::chrono::hours(24 * 365);
    const std::chrono::duration<double, std::milli> ms(d);
    if (ms.count() >= static_cast<double>(year.count())) return year;
    if (ms.count() <= 0) return std::chrono::milliseconds(0);
    return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(ms.count()));
  }
  static clock::time_point from_now(std::chrono::milliseconds d) noexcept { return clock::now() + d; }

  clock::time_point at_;
};

}  // namespace kernelgate

#endif
