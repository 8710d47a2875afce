#pragma once

// qcustomplot.h uses the Qt keywords `signals` and `foreach`, but every KD Workbench target
// builds with QT_NO_KEYWORDS (torch headers use `slots` as an identifier). Include it only
// through this header, which maps the keywords for its declarations and removes them again.

#ifdef QT_NO_KEYWORDS
#define signals Q_SIGNALS
#define slots Q_SLOTS
#define emit Q_EMIT
#define foreach Q_FOREACH
#include <qcustomplot.h>
#undef signals
#undef slots
#undef emit
#undef foreach
#else
#include <qcustomplot.h>
#endif
