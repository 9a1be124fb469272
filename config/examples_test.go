package config

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v2"
)

// TestKubernetesExamples parses every manifest in examples/kubernetes (no
// cluster needed), checks the pieces refer to each other, and loads the
// ConfigMap's exporter configuration with Parse.
func TestKubernetesExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "examples", "kubernetes", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	byKind := map[string]map[any]any{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var doc map[any]any
			if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			kind, _ := doc["kind"].(string)
			if kind == "" || doc["apiVersion"] == nil {
				t.Fatalf("%s: a document without kind or apiVersion", f)
			}
			if kind != "Kustomization" && dig(doc, "metadata", "name") == nil {
				t.Errorf("%s: %s without metadata.name", f, kind)
			}
			byKind[kind] = doc
		}
	}
	for _, kind := range []string{"StatefulSet", "Service", "ServiceMonitor", "Secret", "ConfigMap"} {
		if byKind[kind] == nil {
			t.Fatalf("no %s in examples/kubernetes", kind)
		}
	}

	cm := byKind["ConfigMap"]
	cfgText, _ := dig(cm, "data", "kubiya.yml").(string)
	cfg, err := Parse([]byte(cfgText), func(string) string { return "" })
	if err != nil {
		t.Fatalf("ConfigMap kubiya.yml: %v", err)
	}
	if !cfg.Discovery.Enabled {
		t.Error("the example configuration should enable discovery")
	}

	sts := byKind["StatefulSet"]
	replicas, _ := dig(sts, "spec", "replicas").(int)
	containers, _ := dig(sts, "spec", "template", "spec", "containers").([]any)
	if len(containers) != 1 {
		t.Fatalf("want one container, got %d", len(containers))
	}
	c := containers[0].(map[any]any)
	var args []string
	for _, a := range c["args"].([]any) {
		args = append(args, a.(string))
	}
	if !slices.Contains(args, "--total-shards="+strconv.Itoa(replicas)) {
		t.Errorf("args %v: --total-shards must equal replicas (%d)", args, replicas)
	}
	if !slices.Contains(args, "--shard=$(SHARD)") {
		t.Errorf("args %v: want --shard=$(SHARD)", args)
	}
	var shardEnv any
	for _, e := range c["env"].([]any) {
		if e.(map[any]any)["name"] == "SHARD" {
			shardEnv = dig(e.(map[any]any), "valueFrom", "fieldRef", "fieldPath")
		}
	}
	if shardEnv != "metadata.labels['apps.kubernetes.io/pod-index']" {
		t.Errorf("SHARD comes from %v, want the pod-index label", shardEnv)
	}
	// The config file and the key file are where the container mounts them.
	var mounts []string
	for _, m := range c["volumeMounts"].([]any) {
		mounts = append(mounts, m.(map[any]any)["mountPath"].(string))
	}
	keyFile := cfg.ControlPlane.HTTPClientConfig.Authorization.CredentialsFile
	if !slices.Contains(mounts, filepath.Dir(keyFile)) {
		t.Errorf("credentials_file %s is not under a mount %v", keyFile, mounts)
	}
	if !slices.ContainsFunc(args, func(a string) bool {
		p, ok := strings.CutPrefix(a, "--config.file=")
		return ok && slices.Contains(mounts, filepath.Dir(p))
	}) {
		t.Errorf("--config.file is not under a mount %v", mounts)
	}
	secretKeys := dig(byKind["Secret"], "stringData").(map[any]any)
	if _, ok := secretKeys[filepath.Base(keyFile)]; !ok {
		t.Errorf("the Secret has no key %q", filepath.Base(keyFile))
	}
	port := dig(byKind["ServiceMonitor"], "spec", "endpoints").([]any)[0].(map[any]any)["port"]
	svcPort := dig(byKind["Service"], "spec", "ports").([]any)[0].(map[any]any)["name"]
	if port != svcPort {
		t.Errorf("ServiceMonitor port %v is not the Service's %v", port, svcPort)
	}
}

func dig(m map[any]any, path ...string) any {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[any]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}
