#pragma once

// The datagen connector (built into the registry): rows of random or sequence values at a rate.

#include "reka/connector/Registry.h"

namespace reka::connector {

ConnectorFactory datagenConnector();

}  // namespace reka::connector
