#include "ModelListEditor.h"

#include "setup/FormHelpers.h"
#include "setup/ModelEditor.h"

#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QVBoxLayout>

namespace kd::ui {

ModelListEditor::ModelListEditor(const kd::ArchitectureRegistry &registry, const QString &itemTitle,
                                 int editorOptions, kd::ModelSpec newEntry, QWidget *parent)
    : QWidget(parent),
      m_registry(registry),
      m_itemTitle(itemTitle),
      m_editorOptions(editorOptions),
      m_newEntry(std::move(newEntry)),
      m_description(new QLabel(this)),
      m_items(new QVBoxLayout),
      m_add(new QPushButton(tr("Add %1").arg(itemTitle.arg(QString()).trimmed().toLower()), this))
{
    makeSecondaryLabel(m_description);
    m_description->hide();
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_description);
    layout->addLayout(m_items);
    auto *buttons = new QHBoxLayout;
    buttons->addWidget(m_add);
    buttons->addStretch(1);
    layout->addLayout(buttons);
    m_add->setToolTip(tr("Append an entry; edit its architecture and training below."));
    connect(m_add, &QPushButton::clicked, this, &ModelListEditor::addEntry);
}

void ModelListEditor::setDescription(const QString &text)
{
    m_description->setText(text);
    m_description->setVisible(!text.isEmpty());
}

void ModelListEditor::setSpecs(const std::vector<kd::ModelSpec> &specs)
{
    while (!m_editors.empty()) {
        delete m_boxes.back();
        m_boxes.pop_back();
        m_editors.pop_back();
    }
    for (const auto &spec : specs)
        append(spec);
}

std::vector<kd::ModelSpec> ModelListEditor::specs() const
{
    std::vector<kd::ModelSpec> out;
    for (const ModelEditor *e : m_editors)
        out.push_back(e->spec());
    return out;
}

void ModelListEditor::setInput(const kd::InputShape &shape, int numClasses, bool classesKnown)
{
    m_input = shape;
    m_numClasses = numClasses;
    m_classesKnown = classesKnown;
    for (ModelEditor *e : m_editors)
        e->setInput(shape, numClasses, classesKnown);
}

void ModelListEditor::addEntry()
{
    append(m_newEntry);
    Q_EMIT changed();
}

void ModelListEditor::append(const kd::ModelSpec &spec)
{
    auto *box = new QGroupBox(this);
    auto *boxLayout = new QVBoxLayout(box);
    auto *editor = new ModelEditor(m_registry, m_editorOptions, box);
    editor->setInput(m_input, m_numClasses, m_classesKnown);
    editor->setSpec(spec);
    auto *remove = new QPushButton(tr("Remove"), box);
    remove->setToolTip(tr("Remove this entry from the project"));
    auto *row = new QHBoxLayout;
    row->addStretch(1);
    row->addWidget(remove);
    boxLayout->addWidget(editor);
    boxLayout->addLayout(row);
    m_items->addWidget(box);
    m_boxes.push_back(box);
    m_editors.push_back(editor);
    renumber();
    connect(editor, &ModelEditor::changed, this, &ModelListEditor::changed);
    connect(remove, &QPushButton::clicked, this, [this, box] {
        for (std::size_t i = 0; i < m_boxes.size(); ++i)
            if (m_boxes[i] == box)
                removeAt(int(i));
    });
}

void ModelListEditor::removeAt(int index)
{
    QWidget *box = m_boxes.at(std::size_t(index));
    m_boxes.erase(m_boxes.begin() + index);
    m_editors.erase(m_editors.begin() + index);
    box->hide();
    box->deleteLater(); // the clicked button lives in it
    renumber();
    Q_EMIT changed();
}

void ModelListEditor::renumber()
{
    for (std::size_t i = 0; i < m_boxes.size(); ++i)
        static_cast<QGroupBox *>(m_boxes[i])->setTitle(m_itemTitle.arg(i + 1));
}

} // namespace kd::ui
