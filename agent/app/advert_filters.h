// Keeps each interface's kernel advert filter (net/advert_filter.h) in step with the instances
// that listen on it: at start, after every reload, and when a socket is reopened.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "app/instance.h"

namespace vipd::app {

/// Attaches to every link's socket a filter accepting the (version, VRID) of each instance on
/// that link. A failure is logged (the agent keeps running; user space still drops and counts).
void install_advert_filters(const Links& links,
                            const std::vector<std::unique_ptr<Instance>>& instances);

}  // namespace vipd::app
