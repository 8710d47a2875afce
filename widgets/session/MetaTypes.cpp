#include "MetaTypes.h"

#include <QVector>

namespace kd::ui {

void registerMetaTypes()
{
    static const bool once = [] {
        qRegisterMetaType<kd::MetricRecord>("kd::MetricRecord");
        qRegisterMetaType<QVector<kd::MetricRecord>>("QVector<kd::MetricRecord>");
        qRegisterMetaType<kd::ProgressInfo>("kd::ProgressInfo");
        qRegisterMetaType<kd::RunSummary>("kd::RunSummary");
        return true;
    }();
    Q_UNUSED(once);
}

} // namespace kd::ui
