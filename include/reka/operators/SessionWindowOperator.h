#pragma once
// Placeholder: declared here, implemented by the session-window work.
#include <memory>
#include "reka/api/Functions.h"
#include "reka/time/Windows.h"
namespace reka::detail {
template <class T, class K, class KeyFn, class TsFn, class Agg, class Out, class Emit>
class SessionWindowOperator;
}
