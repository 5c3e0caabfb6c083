{{/* The descheduler's pod spec, the same in the CronJob, the Job and the Deployment. */}}
{{- define "tensile.descheduler.podSpec" -}}
{{- $component := dict "root" . "component" "descheduler" -}}
serviceAccountName: {{ include "tensile.descheduler.serviceAccountName" . }}
{{- if ne .Values.automountServiceAccountToken nil }}
automountServiceAccountToken: {{ .Values.automountServiceAccountToken }}
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- if ne .Values.kind "Deployment" }}
restartPolicy: Never
{{- else }}
terminationGracePeriodSeconds: 60
{{- end }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.dnsConfig }}
dnsConfig:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.initContainers }}
initContainers:
  {{- toYaml . | nindent 2 }}
{{- end }}
containers:
  - name: tensile-descheduler
    image: {{ include "tensile.image" . | quote }}
    imagePullPolicy: {{ .Values.image.pullPolicy }}
    command:
      {{- toYaml .Values.command | nindent 6 }}
    args:
      {{- include "tensile.descheduler.args" . | nindent 6 }}
    {{- if eq .Values.kind "Deployment" }}
    ports:
      {{- range .Values.ports }}
      - name: http-metrics
        containerPort: {{ .containerPort }}
        protocol: {{ .protocol | default "TCP" }}
      {{- end }}
    {{- with .Values.livenessProbe }}
    livenessProbe:
      {{- $probe := deepCopy . }}
      {{- if $probe.httpGet }}
      {{- $_ := set $probe.httpGet "scheme" "HTTP" }}
      {{- end }}
      {{- toYaml $probe | nindent 6 }}
    {{- end }}
    {{- end }}
    resources:
      {{- toYaml .Values.resources | nindent 6 }}
    {{- with .Values.securityContext }}
    securityContext:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    volumeMounts:
      - name: policy-volume
        mountPath: /policy-dir
        readOnly: true
      - name: tmp
        mountPath: /tmp
      {{- with .Values.extraServiceAccountVolumeMounts }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
volumes:
  - name: policy-volume
    configMap:
      name: {{ include "tensile.descheduler.name" . }}-policy
  - name: tmp
    emptyDir: {}
  {{- with .Values.extraServiceAccountVolumes }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The pod template's metadata. */}}
{{- define "tensile.descheduler.podMetadata" -}}
labels:
  {{- include "tensile.selectorLabels" (dict "root" . "component" "descheduler") | nindent 2 }}
  {{- with .Values.podLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
annotations:
  checksum/config: {{ include (print $.Template.BasePath "/descheduler-policy.yaml") . | sha256sum }}
  {{- with .Values.podAnnotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}
