// The VIP manager: idempotent add/remove of addresses on an interface through libnl-3 route.
#pragma once

#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "app/ports.h"
#include "vrrp/ip_address.h"

// libnl-3's socket, declared at global scope: without this, `struct nl_sock*` inside the class
// would declare a different type, vipd::net::nl_sock.
struct nl_sock;

namespace vipd::net {

using VipOpResult = app::VipOpResult;

/// The address protocol (IFA_PROTO, Linux >= 5.18) vipd puts on the VIPs it adds, so that a
/// leftover of a crashed vipd is told apart from an address the node owns (`ip -d addr` shows
/// it as "proto 0x56"). Kernels 0-3 are the kernel's own (IFAPROT_*).
inline constexpr std::uint8_t kAddressProtocol = 0x56;  // 'V'

class VipManager final : public app::VipTable {
 public:
  VipManager();  // opens one NETLINK_ROUTE socket; throws std::runtime_error on failure
  ~VipManager() override;
  VipManager(const VipManager&) = delete;
  VipManager& operator=(const VipManager&) = delete;

  /// Adds every VIP (already present counts as success, changed=false). All requests are sent
  /// in one batch and the ACKs collected afterwards, so 1,000 VIPs cost one round of syscalls,
  /// not 1,000 round trips. Blocks until the kernel has answered every request (about 15 ms for
  /// 1,000 /32s, nearly all of it kernel work); if answers are lost (receive buffer overrun, or
  /// none within 5 s) the outcome is read back with present() instead of being guessed.
  std::vector<VipOpResult> add(int ifindex, std::span<const vrrp::IpPrefix> vips) override;
  /// Removes every VIP (absent counts as success, changed=false). Batched like add().
  std::vector<VipOpResult> remove(int ifindex, std::span<const vrrp::IpPrefix> vips) override;
  /// Which of `vips` are on the interface now (exact address and prefix length match).
  std::vector<bool> present(int ifindex, std::span<const vrrp::IpPrefix> vips) override;
  /// Every address of every interface, from one netlink dump: (ifindex, address/prefix).
  /// /status reads it once per snapshot rather than once per instance.
  using AddressSet = app::AddressSet;
  static AddressSet dump_addresses();
  AddressSet addresses() override { return dump_addresses(); }
  /// Addresses without vipd's mark (IFA_PROTO = kAddressProtocol, set on every VIP it adds).
  AddressSet foreign_addresses() override;
  static std::vector<bool> present(const AddressSet& addresses, int ifindex,
                                   std::span<const vrrp::IpPrefix> vips);

 private:
  struct nl_sock* sock_ = nullptr;
};

}  // namespace vipd::net
