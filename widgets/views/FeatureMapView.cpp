#include "views/FeatureMapView.h"

#include "plots/PlotStyle.h"

#include <QFileInfo>
#include <QGridLayout>
#include <QLabel>
#include <QResizeEvent>

#include <algorithm>
#include <utility>

namespace kd::ui {

FeatureMapView::FeatureMapView(QWidget *parent)
    : QScrollArea(parent)
{
    setWidgetResizable(true);
    m_content = new QWidget(this);
    m_grid = new QGridLayout(m_content);
    m_grid->setAlignment(Qt::AlignTop);
    m_teacherHeader = new QLabel(m_content);
    m_studentHeader = new QLabel(m_content);
    for (auto *h : {m_teacherHeader, m_studentHeader}) {
        h->setAlignment(Qt::AlignCenter);
        QFont f = h->font();
        f.setBold(true);
        h->setFont(f);
    }
    m_empty = new QLabel(m_content);
    m_empty->setWordWrap(true);
    m_grid->addWidget(m_teacherHeader, 0, 1);
    m_grid->addWidget(m_studentHeader, 0, 2);
    m_grid->addWidget(m_empty, 1, 0, 1, 3);
    setWidget(m_content);
}

QString FeatureMapView::stageName(int row) const { return row >= 0 && row < m_rows.size() ? m_rows[row].stage : QString(); }
QPixmap FeatureMapView::teacherPixmap(int row) const { return row >= 0 && row < m_rows.size() ? m_rows[row].teacher : QPixmap(); }
QPixmap FeatureMapView::studentPixmap(int row) const { return row >= 0 && row < m_rows.size() ? m_rows[row].student : QPixmap(); }

void FeatureMapView::setMaps(const QString &teacherRole, const std::vector<kd::FeatureMapImage> &teacher,
                             const QString &studentRole, const std::vector<kd::FeatureMapImage> &student)
{
    for (auto *w : m_rowWidgets)
        delete w;
    m_rowWidgets.clear();
    m_rows.clear();
    m_teacherHeader->setText(teacherRole.isEmpty() ? QString() : PlotStyle::roleLabel(teacherRole));
    m_studentHeader->setText(PlotStyle::roleLabel(studentRole));

    // Stages pair by name (stage1 with stage1): the teacher's order first, then the student's others.
    QStringList stages;
    for (const auto &m : teacher)
        stages << QString::fromStdString(m.stage);
    for (const auto &m : student)
        if (!stages.contains(QString::fromStdString(m.stage)))
            stages << QString::fromStdString(m.stage);
    auto load = [](const std::vector<kd::FeatureMapImage> &list, const QString &stage, QString &missing) {
        for (const auto &m : list)
            if (QString::fromStdString(m.stage) == stage) {
                const QString path = QString::fromStdString(m.path);
                QPixmap p(path);
                if (p.isNull())
                    missing = tr("missing or unreadable: %1").arg(QFileInfo(path).fileName());
                return p;
            }
        missing = tr("no 4-D feature map named %1").arg(stage);
        return QPixmap();
    };
    int gridRow = 1;
    for (const auto &stage : stages) {
        Row r;
        r.stage = stage;
        QString teacherMissing, studentMissing;
        r.teacher = load(teacher, stage, teacherMissing);
        r.student = load(student, stage, studentMissing);
        auto *name = new QLabel(stage, m_content);
        name->setAlignment(Qt::AlignTop | Qt::AlignRight);
        r.teacherLabel = new QLabel(teacherMissing, m_content);
        r.studentLabel = new QLabel(studentMissing, m_content);
        for (auto *l : {r.teacherLabel, r.studentLabel})
            l->setAlignment(Qt::AlignTop | Qt::AlignHCenter);
        m_grid->addWidget(name, gridRow, 0);
        m_grid->addWidget(r.teacherLabel, gridRow, 1);
        m_grid->addWidget(r.studentLabel, gridRow, 2);
        m_rowWidgets << name << r.teacherLabel << r.studentLabel;
        m_rows.push_back(r);
        ++gridRow;
    }
    m_empty->setVisible(stages.isEmpty());
    m_empty->setText(tr("No feature maps in this epoch: neither model has a 4-D stage, or the run was made with "
                        "analysis.feature_maps off."));
    rescale();
}

void FeatureMapView::resizeEvent(QResizeEvent *event)
{
    QScrollArea::resizeEvent(event);
    rescale();
}

void FeatureMapView::rescale()
{
    // Teacher and student grids of a stage get the same height, so their rows (one per probe
    // image) line up whatever cell size and channel count each PNG has; each fits in half of
    // the width left after the stage names, and grows to at most 2× (the engine's cells are
    // already scaled up).
    const int width = std::max(120, (viewport()->width() - 90) / 2);
    for (auto &r : m_rows) {
        double height = 1e9;
        for (const QPixmap *p : {&r.teacher, &r.student})
            if (!p->isNull())
                height = std::min({height, double(width) * p->height() / p->width(), 2.0 * p->height()});
        for (auto pair : {std::make_pair(&r.teacher, r.teacherLabel), std::make_pair(&r.student, r.studentLabel)})
            if (!pair.first->isNull())
                pair.second->setPixmap(pair.first->scaledToHeight(int(height), Qt::SmoothTransformation));
    }
}

} // namespace kd::ui
