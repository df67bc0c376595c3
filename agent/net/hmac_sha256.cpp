// HMAC-SHA256 from OpenSSL's libcrypto: no cryptography of vipd's own.
#include "net/hmac_sha256.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

namespace vipd::net {

vrrp::auth::Digest OpenSslHmacSha256::compute(std::span<const std::uint8_t> key,
                                              std::span<const std::uint8_t> data) const {
  vrrp::auth::Digest out{};
  unsigned int length = 0;
  // The one-shot HMAC() is not deprecated in OpenSSL 3 (HMAC_CTX is); keys are 32-64 bytes.
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(),
           out.data(), &length) == nullptr ||
      length != out.size())
    throw std::runtime_error("HMAC-SHA256 failed in libcrypto");
  return out;
}

}  // namespace vipd::net
