// The live interface instances run on, shared by every instance on it: its facts and its ports.
#pragma once

#include <memory>

#include "app/ports.h"

namespace vipd::app {

struct Link {
  InterfaceFacts facts;                    // name, index, MAC, primary IPv4 as last read
  bool usable = true;                      // admin up with carrier, as last reported
  std::unique_ptr<AdvertChannel> channel;  // null while the interface is away
  std::unique_ptr<Announcer> announcer;
};

}  // namespace vipd::app
