#!/usr/bin/env bash
# Makes the prompts from their texts with espeak-ng (Mandarin voice `cmn-latn-pinyin`, English
# `en`, 150 words a minute), resampled by sox to 8 kHz mono 16-bit PCM WAV: what hound reads and
# G.711 carries.
#   prompts/generate.sh          makes only the files that are missing; existing WAVs stay as they are
#   prompts/generate.sh --all    makes every file again (sox dithers: even an unchanged text
#                                gives different bytes, so every WAV shows up as changed)
# Needs: apt-get install espeak-ng sox
# Each line of TEXTS is `name|zh-CN text|en text`; the files are prompts/LANG/NAME.wav. Write
# numbers in the Chinese texts as words (按五, not 按5). The Mandarin voice is `cmn-latn-pinyin`,
# not `cmn`: espeak-ng 1.51's `cmn` reads each character's internal pinyin as English ("请按五"
# comes out as "king three, an four, wu").
set -euo pipefail
cd "$(dirname "$0")"
all=false
case "${1-}" in
  '') ;;
  --all) all=true ;;
  *) echo "usage: $0 [--all]" >&2; exit 2 ;;
esac
TEXTS='handover-notice|您好，这里是客户服务中心。您的房屋已具备交付条件。|Hello, this is the customer service center. Your home is ready for handover.
handover-date|请于本月二十八日前，携带身份证件到项目交付中心办理手续。|Please come to the handover center with your identity documents before the twenty-eighth of this month.
callback-number|如有疑问，请拨打四零零八一零八八八八。谢谢。|If you have any questions, please call four zero zero, eight one zero, eight eight eight eight. Thank you.
safe-harbor|您好，这里是客户服务中心，我们稍后再与您联系。回拨请拨打四零零八一零八八八八。|Hello, this is the customer service center. We will call you back later. To reach us, call four zero zero, eight one zero, eight eight eight eight.
callback-intro|您好，这里是客户服务中心。您之前的报修工单已完成，现在对您进行回访。|Hello, this is the customer service center, calling back about the repair you reported, which has been marked completed.
rate-1-5|请问您对本次维修服务是否满意？非常满意请按五，满意请按四，一般请按三，不满意请按二，非常不满意请按一。|How satisfied are you with how it was handled? Press five for very satisfied, four for satisfied, three for neutral, two for dissatisfied, one for very dissatisfied.
invalid-key|对不起，您的按键无效。|Sorry, that key is not valid.
no-key|对不起，我们没有收到您的按键。|Sorry, we did not receive your key press.
sorry-agent-or-comment|非常抱歉。转人工服务请按一，语音留言请按二。|We are sorry. To speak to an agent, press one. To leave a spoken comment, press two.
after-the-tone|请在提示音后留言，留言完毕请按井号键。|Please leave your comment after the tone, and press the pound key when you are done.
thanks|感谢您的反馈，再见。|Thank you for your feedback. Goodbye.
agent-will-call|我们的客服人员会尽快给您回电。|An agent will call you back as soon as possible.
annual-intro|您好，这里是客户服务中心，正在进行年度业主满意度调查，大约需要占用您一分钟时间。|Hello, this is the customer service center with our annual owner satisfaction survey. It takes one minute.
rate-service|请问您对我们的物业服务整体是否满意？请按一到五，五代表非常满意。|How satisfied are you with our property services overall? Press one to five; five is very satisfied.
rate-repairs|请问您对维修养护工作是否满意？请按一到五。|How satisfied are you with repairs and maintenance? Press one to five.
rate-community|请问您对小区环境和安全秩序是否满意？请按一到五。|How satisfied are you with the community environment and security? Press one to five.
press-9-no-more-calls|如果您不希望再接到此类来电，请按九；否则请按一。|If you do not wish to receive such calls again, press nine. Otherwise, press one.
hotline-welcome|您好，欢迎致电客户服务中心热线。|Hello, welcome to the customer service center hotline.
hotline-menu|报修请按一，投诉请按二，咨询请按三，人工服务请按零。英语服务请按九。|For repairs, press one. For complaints, press two. For other questions, press three. To speak to an agent, press zero.
hotline-closed|您好，现在是非工作时间，我们的服务时间是每天早上八点到晚上十点。如需回电，请按一。|Hello, we are closed now. We are open every day from eight in the morning to ten in the evening. To be called back, press one.
hotline-hold|请稍候，客服人员马上为您服务。|Please hold. An agent will be with you shortly.
queue-position|您现在排在第|You are number
queue-position-end|位，请耐心等候。|in line. Thank you for waiting.
queue-callback-offer|现在来电较多。如需我们稍后给您回电，请按一；继续等候请不要挂机。|All our agents are busy. To be called back later, press one. To keep waiting, stay on the line.
number-1|一|one
number-2|二|two
number-3|三|three
number-4|四|four
number-5|五|five
number-6|六|six
number-7|七|seven
number-8|八|eight
number-9|九|nine
number-10|十|ten
number-many|十多|more than ten'
raw="/tmp/prompt-$$.wav"
trap 'rm -f "$raw" zh-CN/.new-$$.wav en/.new-$$.wav' EXIT
while IFS='|' read -r name zh en; do
  for lang in zh-CN en; do
    out="$lang/$name.wav"
    if [ "$all" = false ] && [ -e "$out" ]; then continue; fi
    mkdir -p "$lang"
    text="$zh"; voice=cmn-latn-pinyin
    if [ "$lang" = en ]; then text="$en"; voice=en; fi
    espeak-ng -v "$voice" -s 150 -w "$raw" "$text"
    # Written under a temporary name and renamed: an interrupted run leaves no half file that
    # the next run would take for done.
    sox "$raw" -r 8000 -c 1 -b 16 "$lang/.new-$$.wav" gain -n -3
    mv -f "$lang/.new-$$.wav" "$out"
    echo "$out"
  done
done <<<"$TEXTS"
