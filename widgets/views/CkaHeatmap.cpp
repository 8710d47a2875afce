#include "views/CkaHeatmap.h"

namespace kd::ui {

namespace {
QStringList names(const std::vector<std::string> &v)
{
    QStringList out;
    for (const auto &s : v)
        out << QString::fromStdString(s);
    return out;
}
} // namespace

CkaHeatmap::CkaHeatmap(QWidget *parent)
    : MatrixHeatmap(parent)
{
    setTitle(tr("Linear CKA"));
}

void CkaHeatmap::setCka(const kd::CkaMatrix &cka, const QString &teacher, const QString &student)
{
    setAxisLabels(tr("%1 features").arg(teacher), tr("%1 features").arg(student));
    setTitle(tr("Linear CKA, %1 × %2").arg(teacher, student));
    if (cka.empty()) {
        showMessage(tr("No CKA in this epoch (the role has no teacher to compare with)"));
        return;
    }
    setMatrix(cka.values, names(cka.teacherFeatures), names(cka.studentFeatures), 0.0, 1.0, 2);
}

} // namespace kd::ui
