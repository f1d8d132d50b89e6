#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace reka {

/// What kind of failure a Status carries.
enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  ///< bad user input: a flag, a config value, a record
  kNotFound,
  kIoError,
  kCorruption,       ///< data that fails a format or checksum check
  kResourceExhausted,
  kFailedPrecondition,
  kCancelled,
  kInternal,
  kNotSupported,
  kUserCodeError,    ///< an exception escaped a user function
};

/// The outcome of an operation that can fail. Cheap to copy when ok.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }
  static Status invalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status notFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status ioError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status resourceExhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
  static Status failedPrecondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
  static Status cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
  static Status internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  static Status notSupported(std::string m) { return {StatusCode::kNotSupported, std::move(m)}; }
  static Status userCodeError(std::string m) { return {StatusCode::kUserCodeError, std::move(m)}; }

  bool isOk() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  /// "InvalidArgument: message", or "OK".
  std::string toString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

/// A value or the Status that explains why there is none.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool isOk() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace reka

#define REKA_CONCAT_INNER_(a, b) a##b
#define REKA_CONCAT_(a, b) REKA_CONCAT_INNER_(a, b)

/// Returns the Status from the enclosing function if `expr` is not ok.
#define REKA_RETURN_IF_ERROR(expr)                 \
  do {                                             \
    ::reka::Status reka_status_ = (expr);          \
    if (!reka_status_.isOk()) return reka_status_; \
  } while (0)

#define REKA_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.isOk()) return tmp.status();             \
  lhs = std::move(tmp).value()

/// `REKA_ASSIGN_OR_RETURN(auto x, makeX());` assigns the value or returns the Status.
#define REKA_ASSIGN_OR_RETURN(lhs, expr) \
  REKA_ASSIGN_OR_RETURN_IMPL_(REKA_CONCAT_(reka_result_, __LINE__), lhs, expr)
