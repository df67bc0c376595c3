// /status: the JSON document of DESIGN.md §7 (its field names are a contract).
#pragma once

#include <nlohmann/json.hpp>

#include "exporters/snapshot.h"

namespace vipd::exporters {

nlohmann::json status_json(const Snapshot& snapshot);

}  // namespace vipd::exporters
