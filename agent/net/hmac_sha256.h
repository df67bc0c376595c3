// HMAC-SHA256 for authenticated adverts, from OpenSSL's libcrypto (the core's HmacSha256 port).
#pragma once

#include "vrrp/auth_hmac.h"

namespace vipd::net {

/// RFC 2104 HMAC over SHA-256 by OpenSSL (HMAC(EVP_sha256(), ...)). Stateless and thread-safe.
class OpenSslHmacSha256 final : public vrrp::auth::HmacSha256 {
 public:
  /// Throws std::runtime_error if libcrypto fails (it does not for valid inputs).
  [[nodiscard]] vrrp::auth::Digest compute(std::span<const std::uint8_t> key,
                                           std::span<const std::uint8_t> data) const override;
};

}  // namespace vipd::net
