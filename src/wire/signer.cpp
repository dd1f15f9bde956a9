#include "kernelgate/wire/signer.hpp"

#include "kernelgate/error.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <string>

namespace kernelgate {
namespace {

struct mac_deleter {
  void operator()(EVP_MAC* p) const noexcept { EVP_MAC_free(p); }
  void operator()(EVP_MAC_CTX* p) const noexcept { EVP_MAC_CTX_free(p); }
  void operator()(EVP_MD* p) const noexcept { EVP_MD_free(p); }
};
using mac_ptr = std::unique_ptr<EVP_MAC, mac_deleter>;
using mac_ctx_ptr = std::unique_ptr<EVP_MAC_CTX, mac_deleter>;
using md_ptr = std::unique_ptr<EVP_MD, mac_deleter>;

[[noreturn]] void unsupported(std::string_view scheme, std::string_view why) {
  throw error(errc::unsupported_scheme,
              "signature scheme '" + std::string(scheme) + "' is not supported: " + std::string(why) +
                  "; use an hmac-<digest> scheme such as hmac-sha256 (the Jupyter default)");
}

// Python's hashlib names (which connection files use) mapped to names OpenSSL fetches by.
std::string openssl_digest_name(std::string_view hashlib_name) {
  if (hashlib_name == "blake2b") return "BLAKE2B-512";
  if (hashlib_name == "blake2s") return "BLAKE2S-256";
  std::string name(hashlib_name);
  for (char& c : name) {
    if (c == '_') c = '-';  // sha3_256 -> sha3-256, sha512_224 -> sha512-224
  }
  return name;
}

// A digest OpenSSL provides under the hashlib name, or null.
md_ptr fetch_digest(std::string_view hashlib_name) {
  if (hashlib_name.empty()) return nullptr;
  md_ptr md(EVP_MD_fetch(nullptr, std::string(hashlib_name).c_str(), nullptr));
  if (!md) md.reset(EVP_MD_fetch(nullptr, openssl_digest_name(hashlib_name).c_str(), nullptr));
  return md;
}

void append_hex(const unsigned char* bytes, std::size_t n, std::string& out) {
  static constexpr char digits[] = "0123456789abcdef";
  const std::size_t at = out.size();
  out.resize(at + 2 * n);
  char* p = out.data() + at;
  for (std::size_t i = 0; i < n; ++i) {
    *p++ = digits[bytes[i] >> 4];
    *p++ = digits[bytes[i] & 0xf];
  }
}

}  // namespace

struct signer::impl {
  // Keyed once at construction and never changed afterwards; every call works on a duplicate, so
  // concurrent calls only read this context.
  mac_ctx_ptr keyed;
  std::size_t digest_size = 0;
};

signer::signer() : scheme_(default_signature_scheme) {}

signer::signer(std::string_view key, std::string_view scheme) : scheme_(scheme) {
  static constexpr std::string_view prefix = "hmac-";
  if (!scheme.starts_with(prefix)) unsupported(scheme, "it does not start with 'hmac-'");
  const std::string_view digest_name = scheme.substr(prefix.size());
  const md_ptr md = fetch_digest(digest_name);
  if (!md) unsupported(scheme, "OpenSSL has no digest named '" + std::string(digest_name) + "'");
  if ((EVP_MD_get_flags(md.get()) & EVP_MD_FLAG_XOF) != 0) {
    unsupported(scheme, "'" + std::string(digest_name) + "' is an extendable-output function, not a hash");
  }
  // The scheme is checked even without a key, as jupyter_client does: a bad connection file fails early.
  if (key.empty()) return;

  const mac_ptr mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!mac) unsupported(scheme, "OpenSSL provides no HMAC implementation");
  auto state = std::make_shared<impl>();
  state->keyed.reset(EVP_MAC_CTX_new(mac.get()));
  if (!state->keyed) throw std::bad_alloc();
  std::string md_name(EVP_MD_get0_name(md.get()));
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, md_name.data(), 0),
      OSSL_PARAM_construct_end(),
  };
  if (EVP_MAC_init(state->keyed.get(), reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                   params) != 1) {
    unsupported(scheme, "OpenSSL cannot compute an HMAC with this digest");
  }
  state->digest_size = EVP_MAC_CTX_get_mac_size(state->keyed.get());
  impl_ = std::move(state);
}

signer::~signer() = default;

bool signer::enabled() const noexcept { return impl_ != nullptr; }

std::size_t signer::signature_size() const noexcept { return impl_ ? 2 * impl_->digest_size : 0; }

void signer::sign_into(std::span<const std::string_view> parts, std::string& out) const {
  out.clear();
  if (!impl_) return;
  const mac_ctx_ptr ctx(EVP_MAC_CTX_dup(impl_->keyed.get()));
  if (!ctx) throw std::bad_alloc();
  for (const std::string_view part : parts) {
    if (EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(part.data()), part.size()) != 1) {
      throw error(errc::unsupported_scheme, "computing the " + scheme_ + " signature failed inside OpenSSL");
    }
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  std::size_t length = 0;
  if (EVP_MAC_final(ctx.get(), digest.data(), &length, digest.size()) != 1) {
    throw error(errc::unsupported_scheme, "computing the " + scheme_ + " signature failed inside OpenSSL");
  }
  out.reserve(2 * length);
  append_hex(digest.data(), length, out);
}

std::string signer::sign(std::span<const std::string_view> parts) const {
  std::string out;
  sign_into(parts, out);
  return out;
}

bool signer::verify(std::string_view signature, std::span<const std::string_view> parts) const {
  if (!impl_) return true;
  if (signature.size() != signature_size()) return false;
  const std::string expected = sign(parts);
  return CRYPTO_memcmp(expected.data(), signature.data(), expected.size()) == 0;
}

replay_guard::replay_guard(std::size_t capacity) : capacity_(capacity) {
  if (capacity == 0) {
    throw error(errc::invalid_argument, "a replay_guard needs a capacity of at least 1 signature");
  }
}

replay_guard::~replay_guard() = default;

bool replay_guard::check_and_record(std::string_view signature) {
  if (signature.empty()) return true;
  const std::lock_guard lock(mutex_);
  const auto [it, inserted] = seen_.emplace(signature);
  if (!inserted) return false;
  if (order_.size() < capacity_) {
    order_.push_back(&*it);
    return true;
  }
  // Full: the slot of the oldest signature takes the new one.
  seen_.erase(seen_.find(*order_[oldest_]));
  order_[oldest_] = &*it;
  oldest_ = (oldest_ + 1) % capacity_;
  return true;
}

std::size_t replay_guard::size() const {
  const std::lock_guard lock(mutex_);
  return seen_.size();
}

void replay_guard::clear() {
  const std::lock_guard lock(mutex_);
  seen_.clear();
  order_.clear();
  oldest_ = 0;
}

}  // namespace kernelgate
