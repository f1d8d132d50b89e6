// The operators module is header-only templates (include/reka/operators); this library holds
// their tests. Non-template helpers shared by the window operators go here.
#include "reka/operators/WindowSupport.h"
