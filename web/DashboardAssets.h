#pragma once

#include <string_view>

namespace reka::web {

/// A file of the dashboard (web/dashboard/), compiled into the binary by the build.
struct DashboardAsset {
  std::string_view name;
  std::string_view content;
  const char* contentType;
};

/// The asset called `name` ("index.html", "app.js", "style.css"), or null.
const DashboardAsset* findDashboardAsset(std::string_view name);

}  // namespace reka::web
