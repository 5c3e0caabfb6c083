{{/* Names, labels and the image, shared by every component. */}}

{{- define "tensile.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name: <release>-tensile, or the release name when it holds the chart's. */}}
{{- define "tensile.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A component's name: tensile.component (dict "root" . "component" "webhook"). */}}
{{- define "tensile.component" -}}
{{- printf "%s-%s" (include "tensile.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tensile.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tensile.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels of one component: (dict "root" . "component" "descheduler"). */}}
{{- define "tensile.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tensile.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "tensile.labels" -}}
{{ include "tensile.selectorLabels" . }}
helm.sh/chart: {{ include "tensile.chart" .root }}
{{- if .root.Chart.AppVersion }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "tensile.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "tensile.descheduler.name" -}}
{{- include "tensile.component" (dict "root" . "component" "descheduler") -}}
{{- end -}}

{{- define "tensile.descheduler.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tensile.descheduler.name" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "tensile.descheduler.leaseName" -}}
{{- default (include "tensile.descheduler.name" .) .Values.leaderElection.resourceName -}}
{{- end -}}

{{- define "tensile.descheduler.leaseNamespace" -}}
{{- default (include "tensile.namespace" .) .Values.leaderElection.resourceNamespace -}}
{{- end -}}

{{/* The descheduler's arguments: the policy, the interval and election (Deployment), cmdOptions. */}}
{{- define "tensile.descheduler.args" -}}
- --policy-config-file=/policy-dir/policy.yaml
{{- if eq .Values.kind "Deployment" }}
- --descheduling-interval={{ required "deschedulingInterval: required with kind: Deployment" .Values.deschedulingInterval }}
- --metrics-address=:10258
{{- if .Values.leaderElection.enabled }}
- --leader-elect
{{- with .Values.leaderElection.leaseDuration }}
- --leader-elect-lease-duration={{ . }}
{{- end }}
{{- with .Values.leaderElection.renewDeadline }}
- --leader-elect-renew-deadline={{ . }}
{{- end }}
{{- with .Values.leaderElection.retryPeriod }}
- --leader-elect-retry-period={{ . }}
{{- end }}
- --leader-elect-resource-name={{ include "tensile.descheduler.leaseName" . }}
- --leader-elect-resource-namespace={{ include "tensile.descheduler.leaseNamespace" . }}
{{- end }}
{{- end }}
{{- range $key, $value := .Values.cmdOptions }}
{{- if ne $value nil }}
- {{ printf "--%s=%s" $key (toString $value) }}
{{- else }}
- {{ printf "--%s" $key }}
{{- end }}
{{- end }}
{{- end -}}
