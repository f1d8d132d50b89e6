#pragma once
// Placeholder: declared here, implemented by the count/global-window work.
#include <memory>
#include "reka/api/Functions.h"
#include "reka/time/Windows.h"
namespace reka::detail {
template <class T, class K, class KeyFn, class Agg, class Out, class Emit>
class CountWindowOperator;
template <class T, class K, class KeyFn, class Agg, class Out, class Emit>
class GlobalWindowOperator;
}
