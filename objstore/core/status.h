// SPDX-License-Identifier: MIT
//
// Status and Result<T>: how every library layer of cairn reports failure.
// No exception crosses a module API; a function with nothing to return
// returns Status, a function with a value returns Result<T>.
//
// The message of a Status is the whole user-facing line, written in git's
// style: lowercase first word, no trailing period, what failed first, the
// subject quoted ("cannot read pack 'ab12…': unexpected end of file").

#pragma once

#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace cairn {

// The fixed set of failure kinds. "Not found" and "corrupt" are kept apart
// everywhere: a missing object and a damaged one need different remedies.
enum class Code {
  kOk = 0,
  kNotFound,
  kCorruption,
  kIOError,
  kInvalidArgument,
  kNotSupported,
  kAlreadyExists,
  kConflict,   // a compare-and-swap of a ref lost the race
  kAmbiguous,  // a short id matched more than one object
  kNotApproved,  // a destructive operation was not approved
  kBusy,         // a lock is held by a live process (waited for, then given up)
  kWrongKey,     // the password or key file opens no key slot of the repository
  kAccessDenied,  // the storage (S3) refused the credentials or the request
  kWriteOnly,     // the key in use is write-only: it cannot read content or delete
};

class [[nodiscard]] Status {
 public:
  Status() = default;

  static Status OK() { return Status(); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status Corruption(std::string msg) { return Status(Code::kCorruption, std::move(msg)); }
  static Status IOError(std::string msg) { return Status(Code::kIOError, std::move(msg)); }
  static Status InvalidArgument(std::string msg) {
    return Status(Code::kInvalidArgument, std::move(msg));
  }
  static Status NotSupported(std::string msg) { return Status(Code::kNotSupported, std::move(msg)); }
  static Status AlreadyExists(std::string msg) {
    return Status(Code::kAlreadyExists, std::move(msg));
  }
  static Status Conflict(std::string msg) { return Status(Code::kConflict, std::move(msg)); }
  static Status Ambiguous(std::string msg) { return Status(Code::kAmbiguous, std::move(msg)); }
  static Status NotApproved(std::string msg) { return Status(Code::kNotApproved, std::move(msg)); }
  static Status Busy(std::string msg) { return Status(Code::kBusy, std::move(msg)); }
  static Status WrongKey(std::string msg) { return Status(Code::kWrongKey, std::move(msg)); }
  static Status AccessDenied(std::string msg) { return Status(Code::kAccessDenied, std::move(msg)); }
  static Status WriteOnly(std::string msg) { return Status(Code::kWriteOnly, std::move(msg)); }

  // Maps an errno value to a Status whose message is "`what`: strerror".
  // ENOENT becomes NotFound; everything else IOError.
  static Status FromErrno(int err, std::string_view what);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  const std::string& message() const { return msg_; }

  // Returns a Status of the same code whose message is "`prefix`: message".
  Status WithContext(std::string_view prefix) const;

 private:
  Status(Code code, std::string msg) : code_(code), msg_(std::move(msg)) {}

  Code code_ = Code::kOk;
  std::string msg_;
};

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    if (std::get<Status>(v_).ok()) std::abort();   // a Result needs a value or an error
  }

  bool ok() const { return v_.index() == 0; }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &std::get<T>(v_); }
  const T* operator->() const { return &std::get<T>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace cairn

#define CAIRN_CONCAT_INNER(a, b) a##b
#define CAIRN_CONCAT(a, b) CAIRN_CONCAT_INNER(a, b)

#define CAIRN_RETURN_IF_ERROR(expr)              \
  do {                                           \
    ::cairn::Status _cairn_st = (expr);          \
    if (!_cairn_st.ok()) return _cairn_st;       \
  } while (0)

#define CAIRN_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()

#define CAIRN_ASSIGN_OR_RETURN(lhs, expr) \
  CAIRN_ASSIGN_OR_RETURN_IMPL(CAIRN_CONCAT(_cairn_r, __LINE__), lhs, expr)

// A programmer error: never used for conditions that depend on data.
#define CAIRN_CHECK(cond)                                                   \
  do {                                                                      \
    if (!(cond)) ::cairn::internal::CheckFailed(#cond, __FILE__, __LINE__); \
  } while (0)

namespace cairn::internal {
[[noreturn]] void CheckFailed(const char* cond, const char* file, int line);
}  // namespace cairn::internal
