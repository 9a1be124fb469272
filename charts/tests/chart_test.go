// Package tests renders charts/kubiya-exporter with the real helm (v4) over
// the values in charts/kubiya-exporter/ci and decodes every object strictly
// into the Kubernetes and prometheus-operator Go types: a field those types
// do not know is an error, as it is for the API server. It is its own module
// so the exporter's go.mod does not carry k8s.io/api and the operator's
// types, which only this test needs. The helm binary comes from $HELM or
// PATH; when CI=true a missing helm fails the test.
package tests

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const (
	chartDir  = "../kubiya-exporter"
	repoRoot  = "../.."
	release   = "kubiya-exporter"
	namespace = "monitoring"
	fullname  = "kubiya-exporter" // the release name contains the chart name
)

func helm(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("HELM")
	if bin == "" {
		bin = "helm"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("helm not found (%v): CI must install helm v4 (.ci/run) and set HELM", err)
		}
		t.Skipf("helm not found (%v); set HELM to a helm v4 binary to run the chart tests", err)
	}
	return path
}

func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return out
}

// objects is what one helm template rendered, decoded, by kind.
type objects map[string][]any

// newObject returns the Go type of a kind the chart may render, with the
// apiVersion it must have.
func newObject(kind string) (obj any, apiVersion string) {
	switch kind {
	case "Deployment":
		return &appsv1.Deployment{}, "apps/v1"
	case "StatefulSet":
		return &appsv1.StatefulSet{}, "apps/v1"
	case "Service":
		return &corev1.Service{}, "v1"
	case "ServiceAccount":
		return &corev1.ServiceAccount{}, "v1"
	case "ConfigMap":
		return &corev1.ConfigMap{}, "v1"
	case "Secret":
		return &corev1.Secret{}, "v1"
	case "PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, "policy/v1"
	case "ServiceMonitor":
		return &monitoringv1.ServiceMonitor{}, "monitoring.coreos.com/v1"
	case "PrometheusRule":
		return &monitoringv1.PrometheusRule{}, "monitoring.coreos.com/v1"
	}
	return nil, ""
}

// decodeStrict decodes a multi-document stream; duplicate keys, unknown
// fields, unknown kinds and wrong apiVersions are errors.
func decodeStrict(t *testing.T, manifests []byte) (objects, map[string]map[string]any) {
	t.Helper()
	objs := objects{}
	raw := map[string]map[string]any{} // kind/name -> the object as JSON
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(manifests)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		js, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			t.Fatalf("%v\n%s", err, doc)
		}
		if string(js) == "null" {
			continue // an empty document (a comment only)
		}
		// kubectl apply (helm template | kubectl apply, Argo CD) keeps a
		// copy of the object in an annotation limited to 256 KiB.
		if len(js) >= 256<<10 {
			t.Errorf("an object of %d bytes: too large for kubectl apply", len(js))
		}
		var meta struct{ APIVersion, Kind string }
		var m map[string]any
		if err := json.Unmarshal(js, &meta); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(js, &m); err != nil {
			t.Fatal(err)
		}
		obj, apiVersion := newObject(meta.Kind)
		if obj == nil {
			t.Fatalf("unexpected kind %q:\n%s", meta.Kind, doc)
		}
		if meta.APIVersion != apiVersion {
			t.Errorf("%s: apiVersion %q, want %q", meta.Kind, meta.APIVersion, apiVersion)
		}
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		if err := dec.Decode(obj); err != nil {
			t.Fatalf("%s: strict decode: %v\n%s", meta.Kind, err, doc)
		}
		objs[meta.Kind] = append(objs[meta.Kind], obj)
		name, _ := m["metadata"].(map[string]any)["name"].(string)
		raw[meta.Kind+"/"+name] = m
	}
	return objs, raw
}

func one[T any](t *testing.T, objs objects, kind string) T {
	t.Helper()
	if len(objs[kind]) != 1 {
		t.Fatalf("want one %s, got %d", kind, len(objs[kind]))
	}
	return objs[kind][0].(T)
}

func lintAndRender(t *testing.T, helmBin, valuesFile string, set ...string) []byte {
	return lintAndRenderChart(t, helmBin, chartDir, valuesFile, set...)
}

func lintAndRenderChart(t *testing.T, helmBin, chart, valuesFile string, set ...string) []byte {
	t.Helper()
	var args []string
	if valuesFile != "" {
		args = append(args, "-f", valuesFile)
	}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	run(t, helmBin, append([]string{"lint", "--strict", chart}, args...)...)
	return run(t, helmBin, append([]string{"template", release, chart, "--namespace", namespace}, args...)...)
}

// The matrix: the defaults, then every ci/*-values.yaml (chart-testing's
// convention), each checked for what it is about.
func TestChart(t *testing.T) {
	helmBin := helm(t)
	exporter := buildExporter(t)
	cases := []struct {
		values string
		check  func(t *testing.T, objs objects, raw map[string]map[string]any)
	}{
		{"", checkDefaults},
		{"shards-values.yaml", checkShards},
		{"existing-secret-values.yaml", checkExistingSecret},
		{"monitoring-values.yaml", checkMonitoring},
	}
	files, _ := filepath.Glob(filepath.Join(chartDir, "ci", "*-values.yaml"))
	if len(files) != len(cases)-1 {
		t.Errorf("ci/ has %d values files, the matrix tests %d: add the new one here", len(files), len(cases)-1)
	}
	for _, c := range cases {
		name := strings.TrimSuffix(c.values, "-values.yaml")
		if name == "" {
			name = "defaults"
		}
		t.Run(name, func(t *testing.T) {
			values := ""
			if c.values != "" {
				values = filepath.Join(chartDir, "ci", c.values)
			}
			objs, raw := decodeStrict(t, lintAndRender(t, helmBin, values))
			checkCommon(t, objs, exporter)
			c.check(t, objs, raw)
		})
	}
	// The rules and dashboards are symbolic links out of the chart's
	// directory; helm package must store what they point to.
	t.Run("packaged", func(t *testing.T) {
		dir := t.TempDir()
		run(t, helmBin, "package", chartDir, "--destination", dir)
		pkgs, _ := filepath.Glob(filepath.Join(dir, "*.tgz"))
		if len(pkgs) != 1 {
			t.Fatalf("helm package made %v", pkgs)
		}
		objs, raw := decodeStrict(t, lintAndRenderChart(t, helmBin, pkgs[0], filepath.Join(chartDir, "ci", "monitoring-values.yaml")))
		checkCommon(t, objs, exporter)
		checkMonitoring(t, objs, raw)
	})
}

// buildExporter builds the exporter of this repository, to check the
// rendered configuration with --config.check.
func buildExporter(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kubiya_exporter")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func podSpec(t *testing.T, objs objects) (corev1.PodTemplateSpec, int32) {
	t.Helper()
	switch {
	case len(objs["Deployment"]) == 1 && len(objs["StatefulSet"]) == 0:
		d := objs["Deployment"][0].(*appsv1.Deployment)
		return d.Spec.Template, *d.Spec.Replicas
	case len(objs["StatefulSet"]) == 1 && len(objs["Deployment"]) == 0:
		s := objs["StatefulSet"][0].(*appsv1.StatefulSet)
		return s.Spec.Template, *s.Spec.Replicas
	}
	t.Fatalf("want one Deployment or one StatefulSet, got %d and %d", len(objs["Deployment"]), len(objs["StatefulSet"]))
	return corev1.PodTemplateSpec{}, 0
}

func selects(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return len(selector) > 0
}

// checkCommon: what every rendering must get right.
func checkCommon(t *testing.T, objs objects, exporter string) {
	tmpl, _ := podSpec(t, objs)
	pod := tmpl.Spec
	svc := one[*corev1.Service](t, objs, "Service")
	if !selects(svc.Spec.Selector, tmpl.Labels) {
		t.Errorf("Service selector %v does not select the pods %v", svc.Spec.Selector, tmpl.Labels)
	}
	pdb := one[*policyv1.PodDisruptionBudget](t, objs, "PodDisruptionBudget")
	if !selects(pdb.Spec.Selector.MatchLabels, tmpl.Labels) || pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("PodDisruptionBudget %+v: want maxUnavailable 1 over the pods", pdb.Spec)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(pod.Containers))
	}
	c := pod.Containers[0]

	// The probes, on the port the Service targets.
	if len(c.Ports) != 1 || c.Ports[0].Name != "http-metrics" || svc.Spec.Ports[0].TargetPort.String() != "http-metrics" {
		t.Errorf("ports %v, Service targets %v: want http-metrics", c.Ports, svc.Spec.Ports[0].TargetPort)
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/-/healthy"}, {"readiness", c.ReadinessProbe, "/-/ready"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "http-metrics" {
			t.Errorf("%s probe %+v: want GET %s on http-metrics", p.name, p.probe, p.path)
		}
	}
	if !slices.Contains(c.Args, fmt.Sprintf("--web.listen-address=:%d", c.Ports[0].ContainerPort)) {
		t.Errorf("args %v do not listen on the container port %d", c.Args, c.Ports[0].ContainerPort)
	}

	// Kubernetes' restricted Pod Security Standard.
	psc, sc := pod.SecurityContext, c.SecurityContext
	switch {
	case psc == nil || sc == nil:
		t.Fatal("no security context")
	case psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0:
		t.Errorf("pod security context %+v: want non-root", psc)
	case psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Errorf("pod seccomp %+v: want RuntimeDefault", psc.SeccompProfile)
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("allowPrivilegeEscalation must be false")
	case sc.Capabilities == nil || !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
		t.Errorf("capabilities %+v: want drop ALL", sc.Capabilities)
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("readOnlyRootFilesystem must be true")
	case sc.Privileged != nil && *sc.Privileged, pod.HostNetwork, pod.HostPID, pod.HostIPC:
		t.Error("privileged or host namespaces")
	case pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken:
		t.Error("the exporter needs no Kubernetes API token: automountServiceAccountToken must be false")
	}

	// The config file and the key file are where the pod mounts them.
	mounts := map[string]string{} // volume -> path
	for _, m := range c.VolumeMounts {
		if !m.ReadOnly {
			t.Errorf("mount %s is writable", m.Name)
		}
		mounts[m.Name] = m.MountPath
	}
	cfgSrc, keySrc := sources(t, tmpl)
	dir := mounts["config"]
	if !slices.Contains(c.Args, "--config.file="+dir+"/kubiya.yml") || len(cfgSrc.Items) != 1 || cfgSrc.Items[0].Path != "kubiya.yml" {
		t.Errorf("args %v: --config.file is not the mounted ConfigMap's kubiya.yml", c.Args)
	}
	if len(keySrc.Items) != 1 || keySrc.Items[0].Mode == nil || *keySrc.Items[0].Mode != 0o400 {
		t.Errorf("key %+v: want one item, mode 0400", keySrc)
	}
	keyFile := dir + "/" + keySrc.Items[0].Path
	for _, cm := range objs["ConfigMap"] {
		cm := cm.(*corev1.ConfigMap)
		if cm.Name != cfgSrc.Name {
			continue
		}
		var cfg struct {
			ControlPlane struct {
				Authorization struct {
					CredentialsFile string `json:"credentials_file"`
				}
			} `json:"control_plane"`
		}
		if err := yaml.Unmarshal([]byte(cm.Data["kubiya.yml"]), &cfg); err != nil {
			t.Fatal(err)
		}
		if got := cfg.ControlPlane.Authorization.CredentialsFile; got != keyFile {
			t.Errorf("credentials_file %q, but the key is mounted at %q", got, keyFile)
		}
		// --config.check reads the key file too: lay out the pod's mount
		// in a directory of the test's, the key where the config says.
		tmp := t.TempDir()
		local := strings.ReplaceAll(cm.Data["kubiya.yml"], keyFile, filepath.Join(tmp, keySrc.Items[0].Path))
		f := filepath.Join(tmp, "kubiya.yml")
		if err := os.WriteFile(f, []byte(local), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, keySrc.Items[0].Path), []byte("test-key\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		run(t, exporter, "--config.check", "--config.file="+f)
	}
}

// sources returns the ConfigMap and the Secret of the pods' one volume,
// mounted at /etc/kubiya_exporter.
func sources(t *testing.T, tmpl corev1.PodTemplateSpec) (*corev1.ConfigMapProjection, *corev1.SecretProjection) {
	t.Helper()
	vols := tmpl.Spec.Volumes
	if len(vols) != 1 || vols[0].Name != "config" || vols[0].Projected == nil || len(vols[0].Projected.Sources) != 2 {
		t.Fatalf("volumes %+v: want one projected volume, config, of a ConfigMap and a Secret", vols)
	}
	cm, secret := vols[0].Projected.Sources[0].ConfigMap, vols[0].Projected.Sources[1].Secret
	if cm == nil || secret == nil {
		t.Fatalf("volume sources %+v: want a ConfigMap, then a Secret", vols[0].Projected.Sources)
	}
	return cm, secret
}

func checkDefaults(t *testing.T, objs objects, raw map[string]map[string]any) {
	tmpl, replicas := podSpec(t, objs)
	if len(objs["Deployment"]) != 1 || replicas != 1 {
		t.Errorf("want a Deployment of one pod")
	}
	for _, a := range tmpl.Spec.Containers[0].Args {
		if strings.HasPrefix(a, "--shard") || strings.HasPrefix(a, "--total-shards") {
			t.Errorf("one shard, but %s", a)
		}
	}
	for _, k := range []string{"ServiceMonitor", "PrometheusRule", "Secret"} {
		if len(objs[k]) > 0 {
			t.Errorf("%s rendered by default", k)
		}
	}
	if len(objs["ConfigMap"]) != 1 {
		t.Errorf("want only the configuration's ConfigMap, got %d", len(objs["ConfigMap"]))
	}
	// The key's Secret, made outside Helm, is named like the release.
	if _, v := sources(t, tmpl); v.Name != fullname || v.Items[0].Key != "api-key" {
		t.Errorf("key %+v: want Secret %s, key api-key", v, fullname)
	}

	// The checksum annotation follows the configuration, and only it.
	sum := tmpl.Annotations["checksum/config"]
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(sum) {
		t.Fatalf("checksum/config %q", sum)
	}
	helmBin := helm(t)
	same, _ := podSpec(t, must(decodeStrict(t, lintAndRender(t, helmBin, "", "podDisruptionBudget.maxUnavailable=1"))))
	changed, _ := podSpec(t, must(decodeStrict(t, lintAndRender(t, helmBin, "", "config.control_plane.timeout=25s"))))
	if same.Annotations["checksum/config"] != sum || changed.Annotations["checksum/config"] == sum {
		t.Errorf("checksum/config does not follow the configuration: %s, same config %s, changed config %s",
			sum, same.Annotations["checksum/config"], changed.Annotations["checksum/config"])
	}
}

func must(objs objects, _ map[string]map[string]any) objects { return objs }

func checkShards(t *testing.T, objs objects, raw map[string]map[string]any) {
	sts := one[*appsv1.StatefulSet](t, objs, "StatefulSet")
	svc := one[*corev1.Service](t, objs, "Service")
	if *sts.Spec.Replicas != 3 || sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement || sts.Spec.ServiceName != svc.Name {
		t.Errorf("StatefulSet %+v: want 3 replicas, Parallel, governed by Service %s", sts.Spec, svc.Name)
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("Service clusterIP %q: want headless", svc.Spec.ClusterIP)
	}
	c := sts.Spec.Template.Spec.Containers[0]
	for _, a := range []string{"--shard=$(SHARD)", "--total-shards=3"} {
		if !slices.Contains(c.Args, a) {
			t.Errorf("args %v: want %s", c.Args, a)
		}
	}
	i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "SHARD" })
	if i < 0 || c.Env[i].ValueFrom == nil || c.Env[i].ValueFrom.FieldRef == nil ||
		c.Env[i].ValueFrom.FieldRef.FieldPath != "metadata.labels['apps.kubernetes.io/pod-index']" {
		t.Errorf("env %+v: SHARD must come from the pod-index label", c.Env)
	}
	// Kubernetes expands $(SHARD) only from a variable defined before.
	if j := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return strings.Contains(e.Value, "$(SHARD)") }); j >= 0 && j < i {
		t.Errorf("env %d uses SHARD before it is defined", j)
	}
}

func checkExistingSecret(t *testing.T, objs objects, raw map[string]map[string]any) {
	tmpl, _ := podSpec(t, objs)
	if len(objs["Secret"]) != 0 {
		t.Error("a Secret rendered although existingSecret is set")
	}
	_, v := sources(t, tmpl)
	if v.Name != "kubiya-api-key" || len(v.Items) != 1 || v.Items[0].Key != "token" || v.Items[0].Path != "api-key" {
		t.Errorf("key volume %+v: want Secret kubiya-api-key, key token, file api-key", v)
	}
}

func checkMonitoring(t *testing.T, objs objects, raw map[string]map[string]any) {
	tmpl, _ := podSpec(t, objs)
	svc := one[*corev1.Service](t, objs, "Service")

	secret := one[*corev1.Secret](t, objs, "Secret")
	if _, key := sources(t, tmpl); string(secret.Data["api-key"]) != "not-a-real-key" || key.Name != secret.Name {
		t.Errorf("Secret %s %v is not the one mounted", secret.Name, secret.Data)
	}

	sm := one[*monitoringv1.ServiceMonitor](t, objs, "ServiceMonitor")
	if sm.Labels["release"] != "kube-prometheus-stack" {
		t.Errorf("ServiceMonitor labels %v: want release from additionalLabels", sm.Labels)
	}
	if !selects(sm.Spec.Selector.MatchLabels, svc.Labels) || !slices.Contains(sm.Spec.NamespaceSelector.MatchNames, svc.Namespace) {
		t.Errorf("ServiceMonitor selector %+v does not select the Service", sm.Spec.Selector)
	}
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != svc.Spec.Ports[0].Name {
		t.Errorf("ServiceMonitor endpoints %+v: want the Service's port %s", sm.Spec.Endpoints, svc.Spec.Ports[0].Name)
	}
	// The job label of the targets is the value of the Service's jobLabel
	// label; the rules select up{job=~"kubiya.*"}.
	if job := svc.Labels[sm.Spec.JobLabel]; !regexp.MustCompile(`^kubiya.*$`).MatchString(job) {
		t.Errorf("scrape job %q (Service label %q) does not match the rules' job=~\"kubiya.*\"", job, sm.Spec.JobLabel)
	}

	// The rule groups are alerts/kubiya.rules.yml's, as the file is now.
	rule := one[*monitoringv1.PrometheusRule](t, objs, "PrometheusRule")
	if rule.Labels["release"] != "kube-prometheus-stack" {
		t.Errorf("PrometheusRule labels %v: want release from additionalLabels", rule.Labels)
	}
	data, err := os.ReadFile(filepath.Join(repoRoot, "alerts", "kubiya.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var file map[string]any
	if err := yaml.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	spec := raw["PrometheusRule/"+rule.Name]["spec"].(map[string]any)
	if !reflect.DeepEqual(spec, file) {
		t.Error("the PrometheusRule's spec is not alerts/kubiya.rules.yml")
	}
	var alerts []string
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				alerts = append(alerts, r.Alert)
			}
		}
	}
	if !slices.Contains(alerts, "KubiyaJobMissedRun") {
		t.Errorf("alerts %v: no KubiyaJobMissedRun", alerts)
	}

	// One ConfigMap per dashboard in dashboards/, with the file as it is now.
	files, _ := filepath.Glob(filepath.Join(repoRoot, "dashboards", "*.json"))
	if len(files) == 0 {
		t.Fatal("no dashboards/*.json")
	}
	got := map[string]string{}
	for _, o := range objs["ConfigMap"] {
		cm := o.(*corev1.ConfigMap)
		if cm.Labels["grafana_dashboard"] != "1" {
			continue
		}
		for k, v := range cm.Data {
			got[k] = v
		}
	}
	for _, f := range files {
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		if g, ok := got[name]; !ok {
			t.Errorf("no ConfigMap labelled grafana_dashboard=1 has %s (charts/kubiya-exporter/files/dashboards links to dashboards/)", name)
		} else if sha256.Sum256([]byte(g)) != sha256.Sum256(bytes.TrimRight(want, "\n")) {
			t.Errorf("dashboard %s differs from dashboards/%s", name, name)
		}
		delete(got, name)
	}
	for name := range got {
		t.Errorf("dashboard %s is not in dashboards/", name)
	}
}
