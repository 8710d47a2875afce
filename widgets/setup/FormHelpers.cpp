#include "FormHelpers.h"

#include <QFormLayout>
#include <QLabel>
#include <QPalette>
#include <QStringList>

namespace kd::ui {

QFormLayout *makeForm(QWidget *parent)
{
    auto *form = new QFormLayout(parent);
    form->setContentsMargins(0, 0, 0, 0);
    form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    form->setRowWrapPolicy(QFormLayout::DontWrapRows);
    return form;
}

void shareTooltipsWithLabels(QFormLayout *form)
{
    for (int i = 0; i < form->rowCount(); ++i) {
        QLayoutItem *label = form->itemAt(i, QFormLayout::LabelRole);
        QLayoutItem *field = form->itemAt(i, QFormLayout::FieldRole);
        if (label && label->widget() && field && field->widget() && label->widget()->toolTip().isEmpty())
            label->widget()->setToolTip(field->widget()->toolTip());
    }
}

void makeSecondaryLabel(QLabel *label)
{
    label->setWordWrap(true);
    QPalette p = label->palette();
    const QColor text = p.color(QPalette::WindowText), back = p.color(QPalette::Window);
    const QColor faded((2 * text.red() + back.red()) / 3, (2 * text.green() + back.green()) / 3,
                       (2 * text.blue() + back.blue()) / 3);
    // Active and inactive only: a disabled label keeps the style's (lighter) disabled colour.
    p.setColor(QPalette::Active, QPalette::WindowText, faded);
    p.setColor(QPalette::Inactive, QPalette::WindowText, faded);
    label->setPalette(p);
}

void showNotes(QLabel *label, const std::vector<std::string> &notes)
{
    QStringList lines;
    for (const auto &n : notes)
        lines << QString::fromStdString(n);
    label->setText(lines.join(QLatin1Char('\n')));
    label->setVisible(!lines.isEmpty());
}

} // namespace kd::ui
