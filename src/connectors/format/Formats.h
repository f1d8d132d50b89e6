#pragma once

// The built-in formats (registered by the format registry on first use).

#include "reka/connector/Format.h"

namespace reka::connector::builtin {

FormatFactory json();
FormatFactory debeziumJson();
FormatFactory changelogJson();
FormatFactory csv();
FormatFactory raw();

}  // namespace reka::connector::builtin
