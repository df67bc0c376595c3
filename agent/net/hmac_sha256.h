// HMAC-SHA256 for authenticated adverts, from OpenSSL's libcrypto (the core's HmacSha256 port).
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include <openssl/types.h>

#include "vrrp/auth_hmac.h"

namespace vipd::net {

/// RFC 2104 HMAC over SHA-256 by OpenSSL's EVP_MAC. Thread-safe.
///
/// OpenSSL 3's one-shot HMAC() fetches the algorithm, builds a context and sets the key on every
/// call; at 100 adverts a second that overhead was most of auth's CPU. This adapter fetches HMAC
/// once and keeps a keyed context for each of the last few keys (an instance has one to three:
/// the active key and those being rotated), so an advert costs one re-init, update and final.
class OpenSslHmacSha256 final : public vrrp::auth::HmacSha256 {
 public:
  /// Throws std::runtime_error if libcrypto has no HMAC or SHA-256 (a broken installation).
  OpenSslHmacSha256();
  ~OpenSslHmacSha256() override;
  OpenSslHmacSha256(const OpenSslHmacSha256&) = delete;
  OpenSslHmacSha256& operator=(const OpenSslHmacSha256&) = delete;

  /// Throws std::runtime_error if libcrypto fails (it does not for valid inputs).
  [[nodiscard]] vrrp::auth::Digest compute(std::span<const std::uint8_t> key,
                                           std::span<const std::uint8_t> data) const override;

 private:
  struct Keyed {
    std::vector<std::uint8_t> key;
    EVP_MAC_CTX* ctx;
  };
  static constexpr std::size_t kCachedKeys = 4;

  EVP_MAC_CTX* keyed(std::span<const std::uint8_t> key) const;  // under mutex_

  EVP_MAC* mac_;
  mutable std::mutex mutex_;
  mutable std::vector<Keyed> cache_;  // most recently used first
};

}  // namespace vipd::net
