#!/usr/bin/env bash
# Regenerates the prompts from their texts with espeak-ng (Mandarin voice `cmn`, English `en`),
# resampled by sox to 8 kHz mono 16-bit PCM WAV: what hound reads and G.711 carries.
#   prompts/generate.sh        (needs: apt-get install espeak-ng sox)
# Each line of TEXTS is `name|zh-CN text|en text`; the files are prompts/LANG/NAME.wav.
set -euo pipefail
cd "$(dirname "$0")"
TEXTS='handover-notice|您好，这里是客户服务中心。您的房屋已具备交付条件。|Hello, this is the customer service center. Your home is ready for handover.
handover-date|请于本月二十八日前，携带身份证件到项目交付中心办理手续。|Please come to the handover center with your identity documents before the twenty-eighth of this month.
callback-number|如有疑问，请拨打四零零八一零八八八八。谢谢。|If you have any questions, please call four zero zero, eight one zero, eight eight eight eight. Thank you.
safe-harbor|您好，这里是客户服务中心，我们稍后再与您联系。回拨请拨打四零零八一零八八八八。|Hello, this is the customer service center. We will call you back later. To reach us, call four zero zero, eight one zero, eight eight eight eight.'
while IFS='|' read -r name zh en; do
  for lang in zh-CN en; do
    mkdir -p "$lang"
    text="$zh"; voice=cmn
    if [ "$lang" = en ]; then text="$en"; voice=en; fi
    espeak-ng -v "$voice" -s 150 -w "/tmp/prompt-$$.wav" "$text"
    sox "/tmp/prompt-$$.wav" -r 8000 -c 1 -b 16 "$lang/$name.wav" gain -n -3
  done
done <<<"$TEXTS"
rm -f "/tmp/prompt-$$.wav"
