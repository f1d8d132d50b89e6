#pragma once
// Placeholder while the aligned window operator is written.
#include "reka/operators/WindowSupport.h"
namespace reka::detail {
template <class T, class K, class KeyFn, class TsFn, class Agg, class Out, class Emit>
class AlignedWindowOperator;
}
