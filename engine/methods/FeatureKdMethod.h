#pragma once

#include "methods/DistillationMethod.h"
#include "project/ParamSpec.h"
#include "methods/FeatureSelection.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace kd {

/// Base of the feature-based methods (FitNet, AT, SP, RKD, PKT, NST, VID, CRD, OFD):
///   total = ce_weight·CE + kd_weight·KD_T + Σ weight_i·term_i
/// where KD_T is Hinton's loss at kd_temperature (only when kd_weight > 0, as RepDistiller's
/// `-a`) and term_i are the method's own losses over the selected feature pairs. Terms are
/// logged unweighted. The method's feature lists come from the `student_features` /
/// `teacher_features` parameters and are resolved against the models in setup().
class FeatureKdMethod : public DistillationMethod {
public:
    FeatureKdMethod(std::string name, const nlohmann::json &params, bool preActivation = false);

    bool needsTeacher() const override { return true; }
    std::vector<std::string> termNames() const override;
    std::vector<std::string> studentFeatures() const override;
    std::vector<std::string> teacherFeatures() const override;
    std::shared_ptr<torch::nn::Module> trainableModule() override { return m_module; }
    void setup(const MethodSetup &setup) override;
    LossTerms compute(const Features &student, const Features *teacher, const torch::Tensor &labels,
                      const StepContext &ctx) override;

    /// The feature pairs chosen in setup().
    const std::vector<FeaturePair> &pairs() const { return m_pairs; }

protected:
    struct Term {
        std::string name;
        double weight;
    };
    /// Checks the pairs and builds adapters (register them on module()); called by setup().
    virtual void setupPairs(const MethodSetup &setup) = 0;
    /// The method's terms for one batch, in the order of m_terms.
    virtual std::vector<torch::Tensor> featureTerms(const Features &student, const Features &teacher,
                                                    const torch::Tensor &labels, const StepContext &ctx) = 0;
    /// The trainable module, created on first use; setup() moves it to the device.
    torch::nn::Module &module();
    /// False while the method trains only its own parts (IE-KD's auto-encoder pre-training):
    /// CE and KD are then logged but left out of the total, so the student gets no gradient
    /// and the optimiser leaves it alone (parameters without a gradient are skipped).
    virtual bool trainsStudent(const StepContext &) const { return true; }

    std::string m_name;
    std::vector<Term> m_terms;
    std::vector<FeaturePair> m_pairs;

private:
    std::string m_studentSpec, m_teacherSpec;
    bool m_pre;
    bool m_isSetUp = false;
    double m_ceWeight, m_kdWeight, m_kdTemperature;
    std::shared_ptr<torch::nn::Module> m_module;
};

/// A feature method with one term, the sum over its feature pairs of loss(student, teacher),
/// weighted by its "beta" parameter; no adapters (the loss takes any pair of shapes it is
/// given). PKT and SP are such methods.
class PairLossMethod : public FeatureKdMethod {
public:
    using PairLoss = torch::Tensor (*)(const torch::Tensor &student, const torch::Tensor &teacher);
    /// `name` is also the term's name.
    PairLossMethod(const std::string &name, const nlohmann::json &params, PairLoss loss);

protected:
    void setupPairs(const MethodSetup &) override {}
    std::vector<torch::Tensor> featureTerms(const Features &student, const Features &teacher, const torch::Tensor &,
                                            const StepContext &) override;

private:
    PairLoss m_loss;
};

/// The parameters every feature method has: student_features / teacher_features (with the
/// given defaults and a help text saying what they select), then `specific`, then ce_weight,
/// kd_weight and kd_temperature.
std::vector<ParamSpec> featureMethodParams(const std::string &studentDefault, const std::string &teacherDefault,
                                           const std::string &featureHelp, std::vector<ParamSpec> specific);

} // namespace kd
