#ifndef KERNELGATE_WIRE_SIGNER_HPP
#define KERNELGATE_WIRE_SIGNER_HPP

#include <cstddef>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace kernelgate {

/// The signature scheme Jupyter uses when a connection file names none.
inline constexpr std::string_view default_signature_scheme = "hmac-sha256";

/// Signs and verifies Jupyter messages: an HMAC over the four JSON frames (header, parent_header,
/// metadata, content), written as lowercase hex, as jupyter_client's Session does.
///
/// The scheme is `hmac-<digest>` with any digest OpenSSL knows, named as Python's hashlib names it
/// (`hmac-sha256`, `hmac-sha512`, `hmac-sha1`, `hmac-md5`, `hmac-sha3_256`, `hmac-blake2b`, ...).
/// An empty key means "unsigned": sign() returns an empty signature and verify() accepts anything,
/// as jupyter_client does when a connection file has `"key": ""`.
///
/// Copy: cheap; copies share the immutable keyed state. Move is a copy on purpose: a moved-from
/// signer keeps its key, so it can never silently turn into one that accepts unsigned messages.
/// Thread safety: every const member function may be called from several threads at once, on one
/// object or on copies (each call works on its own duplicate of the keyed HMAC context).
/// The key is never kept in readable form and never appears in an error message.
class signer {
 public:
  /// An unsigned signer (empty key).
  signer();
  /// A signer for `key` with `scheme`.
  /// @throws kernelgate::error errc::unsupported_scheme when `scheme` is not `hmac-<digest>` with a
  ///         digest this OpenSSL provides (the message names the scheme).
  explicit signer(std::string_view key, std::string_view scheme = default_signature_scheme);

  signer(const signer&) = default;
  signer& operator=(const signer&) = default;
  ~signer();

  /// True when a key is set, i.e. messages are signed and verified.
  [[nodiscard]] bool enabled() const noexcept;
  /// The scheme as given, e.g. "hmac-sha256".
  [[nodiscard]] const std::string& scheme() const noexcept { return scheme_; }
  /// Length in characters of a signature this signer makes: twice the digest size, 0 when unsigned.
  [[nodiscard]] std::size_t signature_size() const noexcept;

  /// The lowercase hex HMAC of the concatenated `parts`, or "" when unsigned.
  [[nodiscard]] std::string sign(std::span<const std::string_view> parts) const;
  /// Same as sign(), written into `out` (replacing its contents) to reuse its storage.
  void sign_into(std::span<const std::string_view> parts, std::string& out) const;

  /// Whether `signature` is the HMAC of `parts`. Checks the length first, then compares in constant
  /// time; lowercase hex only, as the reference implementation. Always true when unsigned.
  [[nodiscard]] bool verify(std::string_view signature, std::span<const std::string_view> parts) const;

 private:
  struct impl;
  std::shared_ptr<const impl> impl_;  // null when unsigned
  std::string scheme_;
};

/// Remembers the signatures of recent messages so that a replayed message can be refused.
///
/// Bounded: it holds at most capacity() signatures, forgetting the oldest first (jupyter_client keeps
/// 2^16 and culls a random 10 %; first-in-first-out gives the same bound with O(1) work per message).
///
/// Copy and move: neither (it owns a mutex); hold it by value or behind a pointer.
/// Thread safety: all member functions may be called from several threads at once.
class replay_guard {
 public:
  /// The history size jupyter_client uses.
  static constexpr std::size_t default_capacity = std::size_t{1} << 16;

  /// @throws kernelgate::error errc::invalid_argument when `capacity` is 0.
  explicit replay_guard(std::size_t capacity = default_capacity);
  replay_guard(const replay_guard&) = delete;
  replay_guard& operator=(const replay_guard&) = delete;
  replay_guard(replay_guard&&) = delete;
  replay_guard& operator=(replay_guard&&) = delete;
  ~replay_guard();

  /// Records `signature` and returns true when it is new; returns false (and records nothing) when it
  /// is still in the history, i.e. the message is a replay. Empty signatures are never recorded and
  /// always count as new: unsigned traffic cannot be told apart by signature.
  [[nodiscard]] bool check_and_record(std::string_view signature);
  /// How many signatures are remembered now.
  [[nodiscard]] std::size_t size() const;
  /// The most signatures remembered at once.
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  /// Forgets everything (e.g. when the kernel restarts with a new session).
  void clear();

 private:
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::unordered_set<std::string> seen_;
  // Insertion order as pointers into seen_'s nodes (stable across rehashing); a ring once full.
  std::vector<const std::string*> order_;
  std::size_t oldest_ = 0;
};

}  // namespace kernelgate

#endif
