{{/* The chart name, or nameOverride. */}}
{{- define "kubiya-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full name: fullnameOverride, else the release name followed by the chart name unless it contains it. */}}
{{- define "kubiya-exporter.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "kubiya-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kubiya-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kubiya-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "kubiya-exporter.labels" -}}
helm.sh/chart: {{ include "kubiya-exporter.chart" . }}
{{ include "kubiya-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "kubiya-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kubiya-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "kubiya-exporter.secretName" -}}
{{- if and .Values.apiKey.value (not .Values.apiKey.existingSecret) }}
{{- include "kubiya-exporter.fullname" . }}
{{- else }}
{{- default (include "kubiya-exporter.fullname" .) .Values.apiKey.existingSecret }}
{{- end }}
{{- end }}

{{- define "kubiya-exporter.configMapName" -}}
{{- default (include "kubiya-exporter.fullname" .) .Values.existingConfigMap }}
{{- end }}

{{/*
The pod template of the Deployment (one shard) and the StatefulSet (shards > 1).
With shards, SHARD comes from the pod-index label through the downward API and
Kubernetes expands $(SHARD) in the argument: no shell, so a scratch or
distroless image works.
*/}}
{{- define "kubiya-exporter.podTemplate" -}}
metadata:
  labels:
    {{- include "kubiya-exporter.selectorLabels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    {{- if not .Values.existingConfigMap }}
    checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
    {{- end }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "kubiya-exporter.serviceAccountName" . }}
  automountServiceAccountToken: false
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  containers:
    - name: kubiya-exporter
      image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      command: [/bin/kubiya_exporter]
      args:
        - --config.file=/etc/kubiya_exporter/kubiya.yml
        - --web.listen-address=:{{ .Values.service.port }}
        {{- if gt (int .Values.shards) 1 }}
        - --shard=$(SHARD)
        - --total-shards={{ int .Values.shards }}
        {{- end }}
        {{- with .Values.extraArgs }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- if or (gt (int .Values.shards) 1) .Values.env }}
      env:
        {{- if gt (int .Values.shards) 1 }}
        - name: SHARD
          valueFrom:
            fieldRef:
              fieldPath: metadata.labels['apps.kubernetes.io/pod-index']
        {{- end }}
        {{- with .Values.env }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
      ports:
        - name: http-metrics
          containerPort: {{ .Values.service.port }}
          protocol: TCP
      livenessProbe:
        httpGet:
          path: /-/healthy
          port: http-metrics
      readinessProbe:
        httpGet:
          path: /-/ready
          port: http-metrics
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: /etc/kubiya_exporter
          readOnly: true
  volumes:
    # One directory for the configuration and the key: a mount nested in a
    # read-only mount can fail to get its mount point.
    - name: config
      projected:
        sources:
          - configMap:
              name: {{ include "kubiya-exporter.configMapName" . }}
              items:
                - key: kubiya.yml
                  path: kubiya.yml
          - secret:
              name: {{ include "kubiya-exporter.secretName" . }}
              items:
                - key: {{ .Values.apiKey.secretKey }}
                  path: api-key
                  # Owner read only; with fsGroup Kubernetes adds group read.
                  mode: 0400
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
