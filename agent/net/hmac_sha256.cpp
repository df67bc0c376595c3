// HMAC-SHA256 from OpenSSL's libcrypto: no cryptography of vipd's own.
#include "net/hmac_sha256.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <stdexcept>

namespace vipd::net {

namespace {

[[noreturn]] void failed(const char* what) {
  throw std::runtime_error(std::string("HMAC-SHA256 failed in libcrypto: ") + what);
}

void forget(std::vector<std::uint8_t>& key) { OPENSSL_cleanse(key.data(), key.size()); }

}  // namespace

OpenSslHmacSha256::OpenSslHmacSha256() : mac_(EVP_MAC_fetch(nullptr, "HMAC", nullptr)) {
  if (mac_ == nullptr) failed("EVP_MAC_fetch(HMAC)");
}

OpenSslHmacSha256::~OpenSslHmacSha256() {
  for (auto& k : cache_) {
    EVP_MAC_CTX_free(k.ctx);
    forget(k.key);
  }
  EVP_MAC_free(mac_);
}

EVP_MAC_CTX* OpenSslHmacSha256::keyed(std::span<const std::uint8_t> key) const {
  const auto hit = std::find_if(cache_.begin(), cache_.end(), [&](const Keyed& k) {
    return std::equal(k.key.begin(), k.key.end(), key.begin(), key.end());
  });
  if (hit != cache_.end()) {
    std::rotate(cache_.begin(), hit, hit + 1);
    return cache_.front().ctx;
  }
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac_);
  if (ctx == nullptr) failed("EVP_MAC_CTX_new");
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_END};
  if (EVP_MAC_init(ctx, key.data(), key.size(), params) != 1) {
    EVP_MAC_CTX_free(ctx);
    failed("EVP_MAC_init");
  }
  if (cache_.size() == kCachedKeys) {
    EVP_MAC_CTX_free(cache_.back().ctx);
    forget(cache_.back().key);
    cache_.pop_back();
  }
  cache_.insert(cache_.begin(), Keyed{{key.begin(), key.end()}, ctx});
  return ctx;
}

vrrp::auth::Digest OpenSslHmacSha256::compute(std::span<const std::uint8_t> key,
                                              std::span<const std::uint8_t> data) const {
  vrrp::auth::Digest out{};
  std::size_t length = 0;
  const std::scoped_lock lock(mutex_);
  EVP_MAC_CTX* ctx = keyed(key);
  // A NULL key re-initialises the context with the key it holds (OpenSSL 3.0's HMAC provider).
  if (EVP_MAC_init(ctx, nullptr, 0, nullptr) != 1 ||
      EVP_MAC_update(ctx, data.data(), data.size()) != 1 ||
      EVP_MAC_final(ctx, out.data(), &length, out.size()) != 1 || length != out.size())
    failed("EVP_MAC_update/final");
  return out;
}

}  // namespace vipd::net
