// SPDX-License-Identifier: MIT
//
// Integers from untrusted JSON. nlohmann::json's get<int>() of a floating
// point value outside int's range is undefined behaviour (found by
// libFuzzer), and get<uint32_t>() of a larger integer silently truncates.
// JsonInt<T> accepts only an integer that fits T and otherwise throws a
// json::type_error, which the decoders already turn into "damaged".

#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>

#include <nlohmann/json.hpp>

namespace cairn {

template <typename T>
T JsonInt(const nlohmann::json& v) {
  static_assert(std::is_integral_v<T>, "JsonInt is for integers");
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u <= static_cast<uint64_t>(std::numeric_limits<T>::max())) return static_cast<T>(u);
  } else if (v.is_number_integer()) {
    int64_t i = v.get<int64_t>();
    bool fits = std::is_signed_v<T> ? (i >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
                                       (sizeof(T) >= 8 || i <= static_cast<int64_t>(std::numeric_limits<T>::max())))
                                    : (i >= 0 && static_cast<uint64_t>(i) <= static_cast<uint64_t>(std::numeric_limits<T>::max()));
    if (fits) return static_cast<T>(i);
  }
  throw nlohmann::json::type_error::create(302, "expected an integer in range", nullptr);
}

}  // namespace cairn
